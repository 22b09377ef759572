"""Benchmark: requests per second under gunicorn, for four kinds of request.

Starts gunicorn (2 sync workers, production settings over plain HTTP: tests/http/servers.py) on
a fresh database of the throwaway PostgreSQL + Redis that scripts/test-services.sh gives, signs
in many shoppers (a real session each, made by Django's `login`), issues fresh codes, fills carts,
then drives each page with wrk for a fixed time, the requests varied by a Lua script (a shopper's
session and CSRF cookies per request, a fresh code per redeem, a fresh cart per order). The
trivial view, the wallet page and redeem take turns, in --rounds short stretches each, so that
a machine slowing down for a while (other work, a busy neighbour) slows all three alike; those
who redeem are other shoppers than those whose wallet page is read, so its history stays put:

    trivial      GET /healthz/ (config/health.py: the whole middleware stack, no view work;
                 with the shopper's cookie it reads the session and the user, as every
                 signed-in request does: config/private_pages.py asks who it is)
    wallet       GET /wallet/ (each shopper has a few earlier movements: --history)
    redeem       POST /gift-cards/redeem/, every request a fresh code (success: 302 to /wallet/)
    place-order  POST /checkout/place-order/, every request another shopper's cart, paid by the
                 balance (success: 302 to /orders/CP-…/)

Every answer is checked: it prints, per page, the successes and the other answers (a redeem
refused, a 500, a pool of codes or carts used up), then the req/s of the successes and the
ratios redeem/wallet (goal >= 0.8) and wallet/trivial (goal >= 0.5), for each round and over
all of them (the successes over the seconds, every round's summed); also the CPU the gunicorn
workers spent per answer (/proc), and the same ratios from it, which do not move with whatever
else the machine runs; and PostgreSQL's CPU per answer meanwhile ("ms DB": what a page costs the
database, on the same two cores). Only 127.0.0.1 is targeted.

    scripts/test-services.sh .venv/bin/python bench/http_load.py [--duration 10] [--rounds 5]
        [--connections 16]
Needs wrk (scripts/provision.sh installs it). The codes live only in a temporary file (0600)
read by wrk, removed at the end; nothing prints one.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# wrk's Lua: each thread takes every Nth line of the data file (method, path, cookies, body)
# and sends them in turn; an answer is a success when its status (and for a redirect, the start
# of its Location) is the one expected. A line used twice (the pool ran out) is counted.
LUA = r"""
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  expected, location = tonumber(args[3]), args[4] or ""
  lines = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then table.insert(lines, line) end
    i = i + 1
  end
  sent, ok, other, reused = 0, 0, 0, 0
  statuses = ""
end
function request()
  sent = sent + 1
  if sent > #lines then reused = reused + 1 end
  local line = lines[(sent - 1) % #lines + 1]
  local method, path, cookie, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  local headers = {Cookie = cookie}
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  else
    body = nil
  end
  return wrk.format(method, path, headers, body)
end
function response(status, headers, body)
  local where = headers["Location"] or headers["location"] or ""
  if status == expected and where:sub(1, #location) == location then
    ok = ok + 1
  else
    other = other + 1
    if #statuses < 200 then statuses = statuses .. status .. " " end
  end
end
function done(summary, latency, requests)
  local total_ok, total_other, total_reused, seen = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
    total_reused = total_reused + thread:get("reused")
    seen = seen .. thread:get("statuses")
  end
  io.write(string.format(
    "RESULT ok=%d other=%d reused=%d seconds=%.3f p50=%.1f p99=%.1f errors=%d statuses=%s\n",
    total_ok, total_other, total_reused, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    seen))
end
"""

RESULT = re.compile(
    r"RESULT ok=(\d+) other=(\d+) reused=(\d+) seconds=([\d.]+) p50=([\d.]+) p99=([\d.]+) "
    r"errors=(\d+) statuses=(.*)"
)
WRK_THREADS = 2
PRODUCT = "django-in-depth"  # a shipped product of the demo catalog's US store


@dataclass
class Slice:
    """What wrk saw on one page for one stretch of time, and what the workers spent on it."""

    ok: int = 0
    other: int = 0
    reused: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # the workers' CPU seconds
    db_cpu: float = 0.0  # PostgreSQL's CPU seconds meanwhile
    p50: list = field(default_factory=list)
    p99: list = field(default_factory=list)
    statuses: str = ""

    def add(self, other: "Slice") -> None:
        for name in ("ok", "other", "reused", "errors", "seconds", "cpu", "db_cpu", "p50", "p99"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.statuses = (self.statuses + " " + other.statuses).strip()

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / max(1, self.ok + self.other)

    @property
    def db_cpu_ms(self) -> float:
        return self.db_cpu * 1000 / max(1, self.ok + self.other)


def _wrk(
    base: str, lines: list[str], *, folder: Path, name: str, args, expected, location="", seconds=0
):
    """Run wrk on `lines` for `seconds` (else `args.slice`); return what came back (a `Slice`).
    A POST line sent twice (its pool ran out) is counted apart: the figure is then a lower
    bound."""
    data = folder / f"{name}.tsv"
    with open(os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write("\n".join(lines) + "\n")
    script = folder / "load.lua"
    script.write_text(LUA, encoding="utf-8")
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{args.connections}", f"-d{seconds or args.slice}s"]
    argv += ["--timeout", "10s", "-s", str(script), base, "--"]
    argv += [str(data), str(WRK_THREADS), str(expected), location]
    from tests.http.servers import database_cpu_seconds, workers_cpu_seconds

    cpu_before, db_before = workers_cpu_seconds(args.port), database_cpu_seconds()
    run = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603
    cpu = workers_cpu_seconds(args.port) - cpu_before
    db_cpu = database_cpu_seconds() - db_before
    data.unlink()
    match = RESULT.search(run.stdout)
    if match is None:
        sys.exit(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    ok, other, reused = (int(match.group(i)) for i in (1, 2, 3))
    seconds, p50, p99 = (float(match.group(i)) for i in (4, 5, 6))
    return Slice(
        ok=ok,
        other=other,
        reused=reused if location else 0,
        errors=int(match.group(7)),
        seconds=seconds,
        cpu=cpu,
        db_cpu=db_cpu,
        p50=[p50],
        p99=[p99],
        statuses=match.group(8).strip(),
    )


def _report(name: str, page: Slice) -> None:
    print(
        f"  {name:<12} {page.rate:8.1f} req/s {page.cpu_ms:6.1f} ms CPU "
        f"{page.db_cpu_ms:5.1f} ms DB  {page.ok:6d} ok, "
        f"{page.other} other answers{' (' + page.statuses + ')' if page.other else ''}, "
        f"{page.errors} socket errors; "
        + (f"{page.reused} beyond the pool (a lower bound); " if page.reused else "")
        + f"latency p50 {statistics.median(page.p50):.0f} ms, p99 {max(page.p99):.0f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per page (default 10)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="the trivial view, the wallet page and redeem measured in turn, this many times, "
        "--duration split between them (default 5)",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (default 1: sync workers)"
    )
    parser.add_argument("--shoppers", type=int, default=200, help="signed-in shoppers")
    parser.add_argument(
        "--history", type=int, default=5, help="earlier movements on each one's wallet page"
    )
    parser.add_argument(
        "--redeem-rate",
        type=int,
        default=1000,
        help="codes issued per second (more than a 2-core machine redeems: about 500)",
    )
    parser.add_argument(
        "--order-rate",
        type=int,
        default=100,
        help="carts filled per second (more than a 2-core machine places: about 50)",
    )
    args, _ = parser.parse_known_args()  # `make bench` passes every bench its BENCH_ARGS
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run scripts/provision.sh")

    from bench._databases import postgres_database
    from tests.http.servers import shop_servers

    database_url = postgres_database(os.environ["DATABASE_URL"], f"coinpurse_http_{os.getpid()}")
    with (
        tempfile.TemporaryDirectory(prefix="coinpurse-wrk.") as scratch,
        shop_servers(
            count=1, workers=args.workers, threads=args.threads, database_url=database_url
        ) as (port,),
    ):
        folder = Path(scratch)
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"  # fast password hashing
        import django

        django.setup()
        from tests.http.shoppers import (
            carts_fill,
            codes_issue,
            form_body,
            history_give,
            shoppers_sign_in,
        )

        base = f"http://127.0.0.1:{port}"
        args.port = port
        args.rounds = max(1, min(args.rounds, args.duration))
        args.slice = args.duration // args.rounds
        code_pool, cart_pool = args.redeem_rate * args.duration, args.order_rate * args.duration
        print(
            f"http_load: gunicorn {args.workers} workers of {args.threads} thread(s) on {base}, "
            f"wrk {WRK_THREADS} threads "
            f"{args.connections} connections {args.slice * args.rounds} s per page "
            f"({args.rounds} rounds); {args.shoppers} shoppers reading their wallet and "
            f"{args.shoppers} redeeming ({args.history} movements each), {code_pool} codes, "
            f"{cart_pool} carts",
            flush=True,
        )
        setup_started = time.monotonic()
        # Those who redeem are not those whose wallet page is read: in turn with the redeems,
        # the pages read keep the history they started with.
        shoppers = shoppers_sign_in(count=args.shoppers)
        redeemers = shoppers_sign_in(count=args.shoppers)
        history_give([shopper.user for shopper in shoppers + redeemers], rows=args.history)
        codes = codes_issue(count=code_pool, folder=folder)
        orders = shoppers_sign_in(count=cart_pool)
        carts_fill([shopper.user for shopper in orders], product=PRODUCT)

        print(f"  (shoppers, codes and carts made in {time.monotonic() - setup_started:.0f} s)")

        def gets(path):
            return [f"GET\t{path}\t{s.cookie}\t" for s in shoppers]

        redeems = [
            f"POST\t/gift-cards/redeem/\t{redeemers[i % len(redeemers)].cookie}\t"
            + form_body(redeemers[i % len(redeemers)], code=code)
            for i, code in enumerate(codes)
        ]
        places = [
            f"POST\t/checkout/place-order/\t{s.cookie}\t"
            + form_body(s, idempotency_key=os.urandom(16).hex(), card_number="")
            for s in orders
        ]
        common = {"folder": folder, "args": args}
        warm = _wrk(
            base, gets("/wallet/"), name="warm-up", **common, expected=200, seconds=args.duration
        )
        _report("warm-up", warm)
        # In turn, round after round: a machine that slows down for a while (other work, a
        # busy neighbour) slows all three alike, and their ratios stay what the code makes them.
        pages = {name: Slice() for name in ("trivial", "wallet", "redeem")}
        per_round = len(redeems) // args.rounds
        for number in range(args.rounds):
            codes_now = redeems[number * per_round : (number + 1) * per_round]
            slices = {
                "trivial": _wrk(
                    base, gets("/healthz/"), name=f"trivial-{number}", **common, expected=200
                ),
                "wallet": _wrk(
                    base, gets("/wallet/"), name=f"wallet-{number}", **common, expected=200
                ),
                "redeem": _wrk(
                    base,
                    codes_now,
                    name=f"redeem-{number}",
                    **common,
                    expected=302,
                    location="/wallet/",
                ),
            }
            for name, page in slices.items():
                pages[name].add(page)
            print(
                f"  round {number + 1}: "
                + ", ".join(f"{name} {page.rate:.1f}" for name, page in slices.items())
                + " req/s; redeem/wallet "
                f"{slices['redeem'].rate / slices['wallet'].rate:.2f}, wallet/trivial "
                f"{slices['wallet'].rate / slices['trivial'].rate:.2f}",
                flush=True,
            )
        place = _wrk(
            base,
            places,
            name="place-order",
            **common,
            expected=302,
            location="/orders/CP-",
            seconds=args.duration,
        )
        for name, page in (*pages.items(), ("place-order", place)):
            _report(name, page)
        trivial, wallet, redeem = pages["trivial"], pages["wallet"], pages["redeem"]
        print(
            f"  ratios       redeem/wallet {redeem.rate / wallet.rate:.2f} (goal >= 0.8), "
            f"wallet/trivial {wallet.rate / trivial.rate:.2f} (goal >= 0.5), "
            f"place-order/wallet {place.rate / wallet.rate:.2f}",
            flush=True,
        )
        # The workers' own CPU per request moves less with whatever else the machine runs:
        # the same ratios as the two cores would give to these workers alone.
        print(
            f"  by CPU       redeem/wallet {wallet.cpu_ms / redeem.cpu_ms:.2f}, "
            f"wallet/trivial {trivial.cpu_ms / wallet.cpu_ms:.2f}, "
            f"place-order/wallet {wallet.cpu_ms / place.cpu_ms:.2f} "
            "(the inverse ratios of the workers' CPU ms per request)",
            flush=True,
        )
        from django.db import connections

        connections.close_all()
    _drop(database_url)


def _drop(database_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/coinpurse", "", ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
