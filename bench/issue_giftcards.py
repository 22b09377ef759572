"""Benchmark: bulk-issuing gift cards with `issue_giftcards`, against the naive path.

For each backend it makes a fresh database, migrates it, runs
`manage.py issue_giftcards --count N` in a child process and prints cards per second and the
child's peak memory (ru_maxrss); then, on the same machine in the same run, the naive path
(one ORM `create()` per card, as django-oscar issues vouchers) for a smaller count, and the
ratio of the two rates.

    python bench/issue_giftcards.py                      # SQLite only, 1,000,000 cards
    scripts/test-services.sh .venv/bin/python bench/issue_giftcards.py --count 1000000
                                                         # SQLite and a throwaway PostgreSQL
Options: --count N (default 1,000,000), --naive-count N (default 20,000),
--backends sqlite,postgres (default: postgres too when DATABASE_URL is a PostgreSQL URL).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script: bench/ is on the path (its _modules are shared, not benchmarks).
from _databases import bench_databases

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def child_env(database_url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true", "REDIS_URL": ""}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a child process; return (seconds, peak resident MB, stdout)."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{out}\n{err}")
    return elapsed, usage.ru_maxrss / 1024, out


def naive_worker(count: int) -> None:
    """The baseline, run in a child: one ORM create() per card, one transaction for all."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import transaction

    from catalog.models import Region
    from wallet.codes import code_generate, code_hash
    from wallet.models import GiftCard, GiftCardBatch

    region = Region.objects.get(code="US")
    started = time.perf_counter()
    with transaction.atomic():
        batch = GiftCardBatch.objects.create(
            name="naive", region=region, currency="USD", card_count=count, amount=2500
        )
        for _ in range(count):
            code = code_generate()
            GiftCard.objects.create(
                code_hash=code_hash(code),
                last4=code[-4:],
                amount=2500,
                currency="USD",
                region=region,
                batch=batch,
            )
    print(f"{count / (time.perf_counter() - started):.1f}")


def bench_backend(backend: str, database_url: str, count: int, naive_count: int) -> dict:
    env = child_env(database_url)
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)  # noqa: S603
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "cards.csv"
        seconds, peak_mb, _ = run_measured(
            [
                *manage,
                "issue_giftcards",
                f"--count={count}",
                "--amount=25.00",
                "--region=US",
                f"--output={output}",
                "--batch-name=bench",
            ],
            env,
        )
        rows = sum(1 for _ in output.open()) - 1
    assert rows == count, f"{rows} rows written, expected {count}"
    _, _, naive_out = run_measured([PYTHON, __file__, f"--naive-worker={naive_count}"], env)
    return {
        "backend": backend,
        "seconds": seconds,
        "rate": count / seconds,
        "peak_mb": peak_mb,
        "naive_rate": float(naive_out.strip()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--naive-count", type=int, default=20_000)
    parser.add_argument("--backends", default="")
    parser.add_argument("--naive-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker:
        naive_worker(args.naive_worker)
        return

    results = []
    with bench_databases(args.backends) as databases:
        for backend, url in databases:
            print(f"{backend}: issuing {args.count:,} cards ...", flush=True)
            results.append(bench_backend(backend, url, args.count, args.naive_count))

    print()
    print(f"issue_giftcards, {args.count:,} cards; naive path: {args.naive_count:,} ORM creates")
    print(
        f"{'backend':10} {'seconds':>8} {'cards/s':>10} {'peak MB':>8} {'naive/s':>9} {'ratio':>7}"
    )
    for r in results:
        print(
            f"{r['backend']:10} {r['seconds']:8.1f} {r['rate']:10,.0f} {r['peak_mb']:8.0f} "
            f"{r['naive_rate']:9,.0f} {r['rate'] / r['naive_rate']:6.1f}x"
        )


if __name__ == "__main__":
    main()
