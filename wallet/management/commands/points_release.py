import datetime

from django.core.management.base import CommandError
from django.utils import timezone

from config.commands import ShopCommand
from wallet.services import points_release
from wallet.units import format_points


class Command(ShopCommand):
    help = (
        "Make available every order's reward points whose pending time is over (docs/points.md): "
        "open points owed are settled from them first. Idempotent: a second run finds nothing. "
        "One summary line, exit 0. --now (an ISO date and time, UTC when it names no offset) "
        "releases as if it were then."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Release as at this ISO date and time, e.g. 2026-12-15T09:00 (default: now).",
        )

    def handle(self, *args, **options):
        result = points_release(now=_parse_now(options["now"]))
        # An earning a refund took back in full, or one that went to points owed, is released
        # with nothing becoming available: no points to speak of.
        if not result.points:
            self.stdout.write("No points to release.")
            return
        orders = "order" if result.earnings == 1 else "orders"
        self.stdout.write(
            f"Released {format_points(result.points)} of {result.earnings:,} {orders}."
        )


def _parse_now(value: str | None) -> datetime.datetime | None:
    """`--now` as an aware datetime (UTC when it names no offset); None when not given."""
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            f"--now must be an ISO date and time, e.g. 2026-12-15T09:00 (got {value!r})."
        ) from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment
