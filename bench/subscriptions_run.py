"""Benchmark: one `subscriptions_run` placing N due Subscribe & Save deliveries (default 10,000).

For each backend it makes a fresh database (a SQLite file; a new PostgreSQL database beside
the one DATABASE_URL names), migrates it and, in a child process, sets up N shoppers spread
over the five regions, each with a default address, a saved approved card, a balance that
covers part of a delivery and one subscription due on the same day, then times
`subscriptions_run(date=that day)` once and prints: the deliveries due, the orders placed, the
seconds, deliveries per second, the queries and queries per delivery, grouped by the SQL they
start with (verb and table). Then the cost of a second run of the same day (nothing due: it
must be a few queries whatever N is), of the day the reminders go (3 days before the next
delivery: N reminder e-mails), and, for a small sample of deliveries, where in the code each
query of a delivery comes from (the innermost frame of the project's own code).

    .venv/bin/python bench/subscriptions_run.py --count 500          # SQLite only
    scripts/test-services.sh .venv/bin/python bench/subscriptions_run.py
                                                  # SQLite and a throwaway PostgreSQL, 10,000
Options: --count N (default 10,000), --backends sqlite,postgres (default: postgres too when
DATABASE_URL is a PostgreSQL URL), --sample N (deliveries traced for the code locations,
default 20; 0 for none).

The set-up, and its shortcuts (none of them is timed):
- the demo catalog and promotions (catalog_seed, demo_promotions_load): every delivery is
  priced with the demo's automatic offers in the engine, as in the shop;
- shoppers and addresses are bulk-inserted (no sign-up, no address form), one saved card each
  (the test gateway's approved card, tokenized once: its token is the same for everyone);
- the balance is a `wallet_credit` of 5.00 (¥500) per shopper, a real ledger transfer into
  the shopper's money account, instead of 10,000 gift cards issued and redeemed: a delivery
  spends it the same way; every delivery costs more than that, so the card pays the rest;
- each subscription is made by `subscription_create` (the service the page calls), quantity
  1-3 of one of the demo's subscribable products, every month; its first delivery is then
  moved to the benchmark's day by one UPDATE, as tests/subscriptions/given.py does (the
  first-delivery job each start queues is left in the queue, never run: the run is timed);
- e-mails go to Django's in-memory backend (counted, not sent: a real mail server adds its
  own time per message, after each commit).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Run as a script: bench/ is on the path (its _modules are shared, not benchmarks).
from _databases import bench_databases
from _measure import Clock, QueryCounter

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DUE = datetime.date(2027, 3, 15)  # the benchmark's day (any date: the run is given it)
REGIONS = ("US", "GB", "FR", "DE", "JP")
POSTAL_CODES = {"US": "10001", "GB": "SW1A 1AA", "FR": "75001", "DE": "10115", "JP": "100-0001"}
BALANCE = 500  # minor units: 5.00, ¥500 (less than any delivery with its shipping)


# --- the parent: one fresh database and one child process per backend ----------------------


def run_child(backend: str, url: str, count: int, sample: int) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "EMAIL_URL": "memorymail://",
        "PYTHONPATH": str(ROOT),
    }
    argv = [PYTHON, __file__, f"--child={backend}", f"--count={count}", f"--sample={sample}"]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and this file)
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    result = None
    for line in process.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        else:
            print(line, end="", flush=True)
    if process.wait() != 0 or result is None:
        sys.exit(f"{backend}: the benchmark failed (exit {process.returncode})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--backends", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count < 1:
        sys.exit("--count must be at least 1")
    if args.child:
        child(args.child, args.count, args.sample)
        return

    results = []
    with bench_databases(args.backends) as databases:
        for backend, url in databases:
            print(f"==== {backend}: {args.count:,} subscriptions due", flush=True)
            results.append(run_child(backend, url, args.count, args.sample))

    print()
    print(f"subscriptions_run, {args.count:,} subscriptions due on one day")
    print(
        f"{'backend':9} {'due':>7} {'placed':>7} {'seconds':>8} {'CPU s':>7} {'per s':>7} "
        f"{'queries':>9} {'q/deliv':>7} | {'again: s':>8} {'q':>4} | "
        f"{'reminders: s':>12} {'q':>7}"
    )
    for r in results:
        cpu = r["cpu"] + (r["server_cpu"] or 0)
        print(
            f"{r['backend']:9} {r['due']:7,} {r['placed']:7,} {r['seconds']:8.1f} {cpu:7.1f} "
            f"{r['placed'] / r['seconds']:7.1f} {r['queries']:9,} "
            f"{r['queries'] / max(r['due'], 1):7.1f} | {r['again_seconds']:8.3f} "
            f"{r['again_queries']:4} | {r['reminder_seconds']:12.1f} {r['reminder_queries']:7,}"
        )
    print("(seconds: wall time; CPU s: this process and, on PostgreSQL, its server process)")


# --- the child: set up, run, count ---------------------------------------------------------


class Progress:
    """A line every tenth of the deliveries (partial figures, should a long run be stopped)."""

    def __init__(self, backend: str, counter: QueryCounter):
        self.backend, self.counter, self.started = backend, counter, time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if done % max(total // 10, 1) == 0:
            seconds = time.perf_counter() - self.started
            print(
                f"{self.backend}:   {done:,}/{total:,} delivered in {seconds:.0f} s "
                f"({done / seconds:.1f}/s), {self.counter.total:,} queries",
                flush=True,
            )


def child(backend: str, count: int, sample: int) -> None:
    import django

    django.setup()
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    mail.outbox = []

    from checkout.models import Order, Payment
    from subscriptions.models import Subscription, SubscriptionPeriod
    from subscriptions.services import subscriptions_run

    started = time.perf_counter()
    products = catalog_setup()
    shoppers_setup(count, products, prefix="bench", first=0)
    Subscription.objects.update(anchor_date=DUE, next_date=DUE)
    print(
        f"{backend}: set-up of {count:,} shoppers and subscriptions in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )

    # 1. The day's run: every subscription due.
    mail.outbox = []
    counter = QueryCounter()
    with Clock(connection) as clock, connection.execute_wrapper(counter):
        summary = subscriptions_run(date=DUE, progress=Progress(backend, counter))
    seconds = clock.wall
    placed = summary.outcomes["placed"]
    # Each placed, its balance spent first and the card paying the rest.
    orders = Order.objects.filter(
        status=Order.Status.PLACED, balance_applied=BALANCE, card_charged__gt=0
    ).count()
    print(
        f"{backend}: run 1 ({DUE}): {summary.due:,} due, {placed:,} placed "
        f"({dict(summary.outcomes)}, {summary.errors} errors), {clock}, "
        f"{placed / seconds:.1f} deliveries/s, {counter.total:,} queries "
        f"({counter.total / max(summary.due, 1):.1f} per delivery), {len(mail.outbox):,} e-mails"
    )
    assert summary.due == count, summary
    assert placed == count, summary
    assert orders == count, f"{orders} orders paid by balance and card"
    assert Payment.objects.count() == count
    assert SubscriptionPeriod.objects.filter(status="placed").count() == count
    print(f"{backend}: queries of run 1 by statement (per delivery):")
    for kind, n in counter.by_kind.most_common(25):
        print(f"  {n:8,} {n / count:6.2f}  {kind}")

    # 2. The same day again: nothing due.
    again = QueryCounter()
    with Clock(connection) as again_clock, connection.execute_wrapper(again):
        second = subscriptions_run(date=DUE)
    again_seconds = again_clock.wall
    assert second.due == 0, second
    assert Order.objects.count() == count
    print(
        f"{backend}: run 2 (same day, nothing due): {again_seconds:.3f} s, {again.total} "
        f"queries ({dict(again.by_kind)})"
    )

    # 3. Three days before the next delivery: the reminders.
    mail.outbox = []
    next_date = Subscription.objects.values_list("next_date", flat=True).distinct().get()
    reminder_day = next_date - datetime.timedelta(days=3)
    reminding = QueryCounter()
    with Clock(connection) as reminder_clock, connection.execute_wrapper(reminding):
        third = subscriptions_run(date=reminder_day)
    reminder_seconds = reminder_clock.wall
    assert third.reminders == count, third
    assert third.due == 0, third
    print(
        f"{backend}: run 3 ({reminder_day}, the reminders): {third.reminders:,} reminders, "
        f"{reminder_clock}, {reminding.total:,} queries "
        f"({reminding.total / count:.1f} per reminder), {len(mail.outbox):,} e-mails"
    )

    # 4. A traced sample: which code sends each query of a delivery.
    if sample:
        day = DUE + datetime.timedelta(days=1)
        shoppers_setup(sample, products, prefix="sample", first=count)
        Subscription.objects.filter(user__email__startswith="sample").update(
            anchor_date=day, next_date=day
        )
        traced = QueryCounter(trace=True)
        with connection.execute_wrapper(traced):
            traced_run = subscriptions_run(date=day)
        assert traced_run.outcomes["placed"] == sample, traced_run
        print(
            f"{backend}: where the {traced.total / sample:.1f} queries of a delivery come from "
            f"({sample} traced), by function:"
        )
        for function, n in traced.by_function.most_common(25):
            print(f"  {n / sample:6.2f}  {function}")
        print(f"{backend}: by line:")
        for where, n in traced.by_code.most_common(40):
            print(f"  {n / sample:6.2f}  {where}")

    result = {
        "backend": backend,
        "due": summary.due,
        "placed": placed,
        "seconds": seconds,
        "cpu": clock.cpu,
        "server_cpu": clock.server,
        "queries": counter.total,
        "again_seconds": again_seconds,
        "again_queries": again.total,
        "reminder_seconds": reminder_seconds,
        "reminder_queries": reminding.total,
        "top": counter.by_kind.most_common(12),
    }
    print("RESULT " + json.dumps(result), flush=True)


def catalog_setup() -> list[str]:
    """The demo catalog and promotions; the slugs of the subscribable products."""
    from catalog.demo import catalog_seed
    from catalog.models import Product
    from promotions.demo import demo_promotions_load

    catalog_seed()
    demo_promotions_load()
    return list(
        Product.objects.filter(subscribable=True, kind=Product.Kind.PHYSICAL)
        .order_by("slug")
        .values_list("slug", flat=True)
    )


def shoppers_setup(count: int, products: list[str], *, prefix: str, first: int) -> None:
    """`count` shoppers with an address, a saved card, a balance and one subscription."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Address, User
    from checkout.models import SavedCard
    from checkout.payments import TestGateway, payment_provider_get
    from subscriptions.services import subscription_create
    from wallet.services import wallet_credit

    password = make_password(None)
    User.objects.bulk_create(
        [
            User(
                email=f"{prefix}{n}@example.com",
                region_id=REGIONS[n % len(REGIONS)],
                password=password,
            )
            for n in range(first, first + count)
        ],
        batch_size=1000,
    )
    users = list(
        User.objects.filter(email__startswith=prefix).select_related("region").order_by("pk")
    )
    Address.objects.bulk_create(
        [
            Address(
                user=user,
                region_id=user.region_id,
                full_name=f"Shopper {user.pk}",
                line1="1 Bench Street",
                city="Benchville",
                postal_code=POSTAL_CODES[user.region_id],
                is_default=True,
            )
            for user in users
        ],
        batch_size=1000,
    )
    provider = payment_provider_get()
    token = provider.tokenize(card_number=TestGateway.APPROVED)
    SavedCard.objects.bulk_create(
        [
            SavedCard(user=user, provider=provider.name, token=token.token, card_last4="4242")
            for user in users
        ],
        batch_size=1000,
    )
    for n, user in enumerate(users):
        wallet_credit(
            user=user,
            amount=BALANCE,
            idempotency_key=f"bench-balance:{user.pk}",
            description="Benchmark balance",
        )
        subscription_create(
            user=user,
            product_slug=products[n % len(products)],
            quantity=1 + n % 3,
            every=1,
        )


if __name__ == "__main__":
    main()
