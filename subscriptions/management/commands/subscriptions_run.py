import datetime
import re
import sys

from django.core.management.base import CommandError
from django.utils import timezone

from config.commands import ShopCommand
from subscriptions.services import subscriptions_run

DATE_AHEAD_MAX_DAYS = 400


def _date(text: str) -> datetime.date:
    try:
        # YYYY-MM-DD only: `fromisoformat` alone would take "20270101" and "2027-W01-1" too.
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD, not {text[:40]!r}.") from None
    # A run for a day ahead places (and charges) that day's deliveries now: a typo of the year
    # must not charge every shopper years early.
    if (day - timezone.now().date()).days > DATE_AHEAD_MAX_DAYS:
        raise CommandError(
            f"--date {text} is more than {DATE_AHEAD_MAX_DAYS} days ahead: deliveries are "
            "charged when placed; check the year."
        )
    return day


class Command(ShopCommand):
    help = (
        "Place every Subscribe & Save delivery due by today in each region (or by --date), "
        "balance first then the saved card, once per subscription and period however often "
        "it runs, and send the reminders of the deliveries due within 3 days. A failed payment "
        "is tried again on the next run. One summary line; see docs/subscriptions.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", type=str, default=None, help="The day to run for (YYYY-MM-DD)."
        )

    def handle(self, *args, date, **options):
        day = _date(date) if date is not None else None
        bar = _Progress(self.stderr) if sys.stderr.isatty() else None
        summary = subscriptions_run(date=day, progress=bar)
        if bar is not None:
            bar.close()
        # Each region's day (they differ around midnight UTC), said once when they agree.
        days = sorted(set(summary.dates.values()))
        when = (
            days[0].isoformat()
            if len(days) == 1
            else "/".join(f"{code} {d.isoformat()}" for code, d in sorted(summary.dates.items()))
        )
        outcomes = summary.outcomes
        self.stdout.write(
            f"subscriptions_run {when}: {summary.due} due, {outcomes['placed']} placed, "
            f"{outcomes['failed']} payment(s) failed (to retry), {outcomes['paused']} paused, "
            f"{outcomes['not_due'] + outcomes['retry']} left for later, "
            f"{summary.reminders} reminder(s) sent, {summary.errors} error(s)."
        )
        if summary.errors:
            raise CommandError(f"{summary.errors} subscription(s) failed: see the log.")


class _Progress:
    """A one-line progress bar on a terminal (nothing when the output is a file)."""

    def __init__(self, stream):
        self.stream = stream

    def __call__(self, done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            width = 30
            filled = width * done // max(total, 1)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
