"""Benchmark: bulk-issuing gift cards with `issue_giftcards`, against the database's ceiling
and the naive path.

For each backend it makes a fresh database, migrates it, runs
`manage.py issue_giftcards --count N` in a child process and prints cards per second and the
peak memory of the command's processes (the command and its code producer: their
proportional set sizes summed, sampled every 20 ms); then, on the same machine in the same
run, the ceiling for the same rows (the same N rows, made beforehand and untimed, in the same
chunks: COPY on PostgreSQL, `executemany` on SQLite, into a table with only the unique index
on the hash) and the naive path (one ORM `create()` per card, as django-oscar issues vouchers)
for a smaller count, and our ratio to each.

    python bench/issue_giftcards.py                      # SQLite only, 1,000,000 cards
    scripts/test-services.sh .venv/bin/python bench/issue_giftcards.py --count 1000000
                                                         # SQLite and a throwaway PostgreSQL
Options: --count N (default 1,000,000), --naive-count N (default 20,000; 0 skips it),
--backends sqlite,postgres (default: postgres too when DATABASE_URL is a PostgreSQL URL).
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
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


def tree_rss_mb(pid: int) -> float:
    """Memory of a process and its children, now, in MB (0 once it is gone): their
    proportional set sizes summed, so that pages a forked child shares with its parent count
    once, not twice."""
    total = 0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return 0.0
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a child process; return (seconds, peak MB of it and its children, stdout). The CPU
    seconds it and its children spent are in `run_measured.cpu` (what the machine's load
    moves far less than the wall clock)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = [0.0]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], tree_rss_mb(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{out}\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_measured.cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    return elapsed, peak[0], out


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


def ceiling_worker(count: int) -> None:
    """The ceiling, run in a child: the database's own bulk path for the same rows, into a
    table with the same columns and only the unique index on the hash, in the same chunks
    (one transaction each). The rows are made before the clock starts, chunk by chunk."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import itertools

    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from wallet.codes import code_hasher, codes_generate
    from wallet.services.batches import PRODUCER_CHUNK_SIZE

    postgres = connection.vendor == "postgresql"
    moment = "timestamptz" if postgres else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_ceiling (code_hash varchar(64) NOT NULL, last4 varchar(4) "
            "NOT NULL, amount bigint NOT NULL, currency varchar(3) NOT NULL, region_id "
            "varchar(2) NOT NULL, status varchar(16) NOT NULL, status_reason varchar(200) NOT "
            f"NULL, expires_on date NULL, batch_id bigint NULL, created_at {moment} NOT NULL)"
        )
        cursor.execute("CREATE UNIQUE INDEX bench_ceiling_code_hash ON bench_ceiling (code_hash)")
    columns = (
        "code_hash, last4, amount, currency, region_id, status, status_reason, expires_on, "
        "batch_id, created_at"
    )
    now = timezone.now()
    shared = [2500, "USD", "US", "active", "", None, 1]
    hasher = code_hasher()
    seconds = 0.0
    remaining = count
    while remaining:
        size = min(PRODUCER_CHUNK_SIZE, remaining)
        remaining -= size
        codes = codes_generate(size)
        pairs = sorted((hasher(code), code[-4:]) for code in codes)
        if postgres:
            tail = "\t".join(["2500", "USD", "US", "active", "", "\\N", "1", now.isoformat()])
            block = "".join(f"{digest}\t{last4}\t{tail}\n" for digest, last4 in pairs)
        else:
            values = [*shared, connection.ops.adapt_datetimefield_value(now)]
            hashes, last4s = zip(*pairs, strict=True)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                with cursor.cursor.copy(f"COPY bench_ceiling ({columns}) FROM STDIN") as copy:
                    copy.write(block)
            else:
                cursor.cursor.executemany(
                    f"INSERT INTO bench_ceiling ({columns}) VALUES ({', '.join('?' * 10)})",  # noqa: S608  # nosec B608
                    zip(hashes, last4s, *map(itertools.repeat, values), strict=False),
                )
        seconds += time.perf_counter() - started
    print(f"{count / seconds:.1f}")


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
        cpu = run_measured.cpu
        rows = sum(1 for _ in output.open()) - 1
    assert rows == count, f"{rows} rows written, expected {count}"
    _, _, ceiling_out = run_measured([PYTHON, __file__, f"--ceiling-worker={count}"], env)
    naive_rate = None
    if naive_count:
        _, _, naive_out = run_measured([PYTHON, __file__, f"--naive-worker={naive_count}"], env)
        naive_rate = float(naive_out.strip())
    return {
        "backend": backend,
        "seconds": seconds,
        "rate": count / seconds,
        "peak_mb": peak_mb,
        "cpu": cpu,
        "ceiling_rate": float(ceiling_out.strip()),
        "naive_rate": naive_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--naive-count", type=int, default=20_000)
    parser.add_argument("--backends", default="")
    parser.add_argument("--naive-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker:
        naive_worker(args.naive_worker)
        return
    if args.ceiling_worker:
        ceiling_worker(args.ceiling_worker)
        return

    results = []
    with bench_databases(args.backends) as databases:
        for backend, url in databases:
            print(f"{backend}: issuing {args.count:,} cards ...", flush=True)
            results.append(bench_backend(backend, url, args.count, args.naive_count))

    print()
    print(
        f"issue_giftcards, {args.count:,} cards (wall clock of the whole command); ceiling: "
        "the same rows into a table with only the unique hash index (COPY / executemany); "
        f"naive path: {args.naive_count:,} ORM creates; cpu s: the command's and its code "
        "producer's CPU seconds (the database server's not included)"
    )
    print(
        f"{'backend':10} {'seconds':>8} {'cards/s':>10} {'cpu s':>6} {'peak MB':>8} "
        f"{'ceiling/s':>10} {'of ceiling':>10} {'naive/s':>9} {'vs naive':>9}"
    )
    for r in results:
        naive = r["naive_rate"]
        print(
            f"{r['backend']:10} {r['seconds']:8.1f} {r['rate']:10,.0f} {r['cpu']:6.1f} "
            f"{r['peak_mb']:8.0f} {r['ceiling_rate']:10,.0f} {r['rate'] / r['ceiling_rate']:10.2f} "
            + (f"{naive:9,.0f} {r['rate'] / naive:8.1f}x" if naive else f"{'-':>9} {'-':>9}")
        )


if __name__ == "__main__":
    main()
