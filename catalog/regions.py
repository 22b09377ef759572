"""A region's calendar: what day it is in a storefront, and when a day ends there.

Dates that mean "a day" to a shopper (a gift card's last day, in time a promotion's end) are
days in the region's own time zone (`Region.time_zone`, an IANA name), not in UTC or in the
server's zone: a US card printed "valid until 31 December" works until midnight in New York
on the 31st, a JP card until midnight in Tokyo. Every check of such a date goes through this
module, so the command, the admin and redemption cannot disagree by a few hours.
"""

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils import timezone


def time_zone_validate(name: str) -> None:
    """Refuse a time zone name the IANA database does not know (`Region.time_zone`).

    Raises `ValidationError`.
    """
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(name)r is not an IANA time zone name (e.g. America/New_York).",
            params={"name": name},
            code="invalid_time_zone",
        ) from None


def region_zone(region) -> zoneinfo.ZoneInfo:
    """The region's time zone."""
    return zoneinfo.ZoneInfo(region.time_zone)


def region_today(region, *, now: datetime.datetime | None = None) -> datetime.date:
    """The calendar date in `region` at `now` (default: the current time)."""
    return timezone.localtime(now or timezone.now(), region_zone(region)).date()


def region_day_end(region, day: datetime.date) -> datetime.datetime:
    """The instant `day` ends in `region`: midnight at the start of the next local day (an
    aware datetime). A day is over from this instant on."""
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=region_zone(region)
    )


def region_day_is_over(region, day: datetime.date, *, now: datetime.datetime | None = None) -> bool:
    """True once `day` has ended in `region`.

    A gift card whose last day (`expires_on`) is over is expired; a card or batch may not be
    issued with a last day that is already over. The same test serves both, so "past expiry"
    at issue and "expired" at redemption are the same instant.
    """
    return region_today(region, now=now) > day
