"""A region's calendar (`catalog.regions`): each region's time zone is data, and a day ends at
midnight in that zone."""

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from catalog.models import Region
from catalog.regions import (
    region_day_end,
    region_day_is_over,
    region_today,
    region_zone,
    time_zone_validate,
)

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def _utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def test_every_region_has_its_time_zone_from_the_migration():
    zones = dict(Region.objects.values_list("code", "time_zone"))

    assert zones == {
        "US": "America/New_York",
        "GB": "Europe/London",
        "FR": "Europe/Paris",
        "DE": "Europe/Berlin",
        "JP": "Asia/Tokyo",
    }
    for region in Region.objects.all():
        region.full_clean()  # every stored name is a real IANA zone


def test_an_unknown_time_zone_name_is_refused():
    region = Region.objects.get(code="US")

    for bad in ("Mars/Olympus_Mons", "EST5EDT/../..", ""):
        region.time_zone = bad
        with pytest.raises(ValidationError):
            region.full_clean()
    with pytest.raises(ValidationError, match="IANA"):
        time_zone_validate("Not/A_Zone")
    assert Region.objects.get(code="US").time_zone == "America/New_York"


def test_region_zone():
    assert region_zone(Region.objects.get(code="JP")) == zoneinfo.ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("code", "now", "today"),
    [
        # 03:59:59 UTC on 1 Jan is 22:59:59 on 31 Dec in New York (UTC-5 in winter).
        ("US", _utc(2027, 1, 1, 3, 59, 59), datetime.date(2026, 12, 31)),
        ("US", _utc(2027, 1, 1, 5, 0, 0), datetime.date(2027, 1, 1)),
        # Summer time: New York is UTC-4.
        ("US", _utc(2027, 7, 1, 3, 59, 59), datetime.date(2027, 6, 30)),
        ("US", _utc(2027, 7, 1, 4, 0, 0), datetime.date(2027, 7, 1)),
        # Tokyo is UTC+9 all year: 15:00 UTC is already tomorrow there.
        ("JP", _utc(2026, 12, 31, 14, 59, 59), datetime.date(2026, 12, 31)),
        ("JP", _utc(2026, 12, 31, 15, 0, 0), datetime.date(2027, 1, 1)),
        ("GB", _utc(2027, 7, 1, 23, 0, 0), datetime.date(2027, 7, 2)),
        ("FR", _utc(2027, 1, 1, 22, 59, 59), datetime.date(2027, 1, 1)),
        ("DE", _utc(2027, 1, 1, 23, 0, 0), datetime.date(2027, 1, 2)),
    ],
)
def test_region_today_is_the_date_in_the_regions_zone(code, now, today):
    assert region_today(Region.objects.get(code=code), now=now) == today


def test_region_today_defaults_to_the_current_time(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: _utc(2026, 12, 31, 15, 0, 0))

    assert region_today(Region.objects.get(code="JP")) == datetime.date(2027, 1, 1)
    assert region_today(Region.objects.get(code="US")) == datetime.date(2026, 12, 31)


def test_a_day_ends_at_the_next_local_midnight():
    us, jp = Region.objects.get(code="US"), Region.objects.get(code="JP")
    day = datetime.date(2026, 12, 31)

    assert region_day_end(us, day) == _utc(2027, 1, 1, 5, 0, 0)
    assert region_day_end(jp, day) == _utc(2026, 12, 31, 15, 0, 0)
    # Across the spring change New York's day is 23 hours long; it still ends at local midnight.
    assert region_day_end(us, datetime.date(2027, 3, 14)) == _utc(2027, 3, 15, 4, 0, 0)


@pytest.mark.parametrize("code", ["US", "JP"])
def test_a_day_is_over_exactly_from_its_end(code):
    region = Region.objects.get(code=code)
    day = datetime.date(2026, 12, 31)
    end = region_day_end(region, day)

    assert not region_day_is_over(region, day, now=end - datetime.timedelta(microseconds=1))
    assert not region_day_is_over(region, day, now=end - datetime.timedelta(days=1))
    assert region_day_is_over(region, day, now=end)
    assert region_day_is_over(region, day, now=end + datetime.timedelta(days=400))
