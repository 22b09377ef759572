"""A gift card's expiry date is its last valid day in its region's time zone (issue 7, point 4).

The clock is frozen by replacing `django.utils.timezone.now`, which every check reads through
`catalog.regions`. Each boundary is tried at 23:59:59 on the last day and at 00:00:00 on the
next, local time, for a region behind UTC (US, New York) and one ahead of it (JP, Tokyo): the
old check compared with the UTC date and was wrong by hours in both directions.
"""

import datetime
import io
import zoneinfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from tests.wallet.ledger_state import ledger_state
from wallet.exceptions import CodeRefused, WalletError
from wallet.forms import GiftCardBatchRequestForm
from wallet.models import GiftCard, GiftCardBatch
from wallet.selectors import wallet_balance_get
from wallet.services import (
    giftcard_batch_create,
    giftcard_batch_issue,
    giftcard_batch_validate,
    giftcard_redeem,
)

pytestmark = pytest.mark.django_db

LAST_DAY = datetime.date(2026, 12, 31)
ZONES = {"US": zoneinfo.ZoneInfo("America/New_York"), "JP": zoneinfo.ZoneInfo("Asia/Tokyo")}


def _local(code: str, *args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=ZONES[code])


# (region, the last second of LAST_DAY there, the first second of the next day there)
BOUNDARIES = {
    "US": (_local("US", 2026, 12, 31, 23, 59, 59), _local("US", 2027, 1, 1, 0, 0, 0)),
    "JP": (_local("JP", 2026, 12, 31, 23, 59, 59), _local("JP", 2027, 1, 1, 0, 0, 0)),
}


@pytest.fixture
def clock(monkeypatch):
    """Set the time every service sees: `clock(aware_datetime)`."""

    def set_to(moment: datetime.datetime) -> None:
        monkeypatch.setattr("django.utils.timezone.now", lambda: moment)

    set_to(_local("US", 2026, 12, 1, 12, 0, 0))
    return set_to


def _utc_date(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(datetime.UTC).date()


def test_the_boundaries_are_where_utc_disagrees():
    """The point of the tests below: at these instants the UTC date is not the local one."""
    us_last, us_next = BOUNDARIES["US"]
    jp_last, jp_next = BOUNDARIES["JP"]

    assert _utc_date(us_last) == datetime.date(2027, 1, 1)  # UTC is already past the last day
    assert _utc_date(jp_next) == LAST_DAY  # UTC is still on the last day
    assert (_utc_date(us_next), _utc_date(jp_last)) == (datetime.date(2027, 1, 1), LAST_DAY)


# --- redemption ---------------------------------------------------------------------------------


def _card(clock, region: str):
    clock(_local(region, 2026, 12, 1, 12, 0, 0))
    return issue_card(region=region, amount=2500 if region == "US" else 3000, expires_on=LAST_DAY)


@pytest.mark.parametrize("region", ["US", "JP"])
def test_a_card_redeems_at_235959_on_its_last_day_in_its_region(clock, region):
    issued = _card(clock, region)
    shopper = UserFactory(region_id=region)
    clock(BOUNDARIES[region][0])

    redemption = giftcard_redeem(user=shopper, code=issued.code)

    assert redemption.card.status == GiftCard.Status.REDEEMED
    assert wallet_balance_get(user=shopper).amount == issued.card.amount


@pytest.mark.parametrize("region", ["US", "JP"])
def test_a_card_is_expired_at_000000_the_next_day_in_its_region(clock, region):
    issued = _card(clock, region)
    shopper = UserFactory(region_id=region)
    clock(BOUNDARIES[region][1])
    before = ledger_state()

    with pytest.raises(CodeRefused) as refusal:
        giftcard_redeem(user=shopper, code=issued.code)

    assert refusal.value.reason == "expired"
    assert ledger_state() == before
    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.ACTIVE


def test_a_us_card_still_redeems_although_utc_is_the_next_day(clock):
    issued = _card(clock, "US")
    clock(datetime.datetime(2027, 1, 1, 4, 59, 59, tzinfo=datetime.UTC))  # 23:59:59 in New York

    giftcard_redeem(user=UserFactory(region_id="US"), code=issued.code)

    assert GiftCard.objects.get(pk=issued.card.pk).status == GiftCard.Status.REDEEMED


def test_a_jp_card_is_refused_although_utc_is_still_its_last_day(clock):
    issued = _card(clock, "JP")
    clock(datetime.datetime(2026, 12, 31, 15, 0, 0, tzinfo=datetime.UTC))  # 00:00 in Tokyo

    with pytest.raises(CodeRefused, match="expired"):
        giftcard_redeem(user=UserFactory(region_id="JP"), code=issued.code)


@pytest.mark.parametrize("region", ["US", "JP"])
def test_a_card_of_a_batch_follows_the_same_boundary(clock, region):
    clock(_local(region, 2026, 12, 1, 12, 0, 0))
    batch = giftcard_batch_create(
        name="new-year",
        region=Region.objects.get(code=region),
        count=2,
        amount=1000,
        expires_on=LAST_DAY,
    )
    codes = [code for chunk in giftcard_batch_issue(batch=batch) for code in chunk.codes]
    shopper = UserFactory(region_id=region)

    clock(BOUNDARIES[region][0])
    giftcard_redeem(user=shopper, code=codes[0])
    clock(BOUNDARIES[region][1])
    with pytest.raises(CodeRefused, match="expired"):
        giftcard_redeem(user=shopper, code=codes[1])

    assert wallet_balance_get(user=shopper).amount == 1000


# --- issuing: a last day already over is refused ----------------------------------------------


@pytest.mark.parametrize("region", ["US", "JP"])
def test_a_card_may_be_issued_until_235959_of_its_last_day(clock, region):
    clock(BOUNDARIES[region][0])

    assert issue_card(region=region, expires_on=LAST_DAY).card.expires_on == LAST_DAY


@pytest.mark.parametrize("region", ["US", "JP"])
def test_issuing_a_card_whose_last_day_is_over_is_refused_and_nothing_written(clock, region):
    clock(BOUNDARIES[region][1])
    before = ledger_state()

    with pytest.raises(WalletError, match="in the past"):
        issue_card(region=region, expires_on=LAST_DAY)

    assert ledger_state() == before
    assert not GiftCard.objects.exists()


@pytest.mark.parametrize("region", ["US", "JP"])
def test_a_batch_follows_the_regions_day_too(clock, region):
    zone_region = Region.objects.get(code=region)
    clock(BOUNDARIES[region][0])
    giftcard_batch_validate(region=zone_region, count=1, amount=100, expires_on=LAST_DAY)

    clock(BOUNDARIES[region][1])
    with pytest.raises(WalletError) as refusal:
        giftcard_batch_create(
            name="late", region=zone_region, count=1, amount=100, expires_on=LAST_DAY
        )

    assert str(refusal.value) == (
        f"the expiry date 2026-12-31 is in the past in {region} ({zone_region.time_zone})."
    )
    assert not GiftCardBatch.objects.exists()


# --- the admin's batch form --------------------------------------------------------------------


def _batch_form(region: str) -> GiftCardBatchRequestForm:
    return GiftCardBatchRequestForm(
        {
            "name": "form",
            "region": region,
            "count": "3",
            "amount": "10" if region == "JP" else "10.00",
            "expires_on": LAST_DAY.isoformat(),
            "idempotency_key": f"expiry-{region}",
        }
    )


@pytest.mark.parametrize("region", ["US", "JP"])
def test_the_batch_form_accepts_the_last_day_until_its_end_in_the_region(clock, region):
    clock(BOUNDARIES[region][0])

    form = _batch_form(region)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["expires_on"] == LAST_DAY


@pytest.mark.parametrize("region", ["US", "JP"])
def test_the_batch_form_refuses_a_last_day_over_in_the_region(clock, region):
    clock(BOUNDARIES[region][1])

    form = _batch_form(region)

    assert not form.is_valid()
    zone = Region.objects.get(code=region).time_zone
    assert form.errors["expires_on"] == [
        f"The expiry date is in the past in {Region.objects.get(code=region).name} ({zone})."
    ]


def test_the_batch_form_with_a_bad_region_reports_the_region_only(clock):
    form = GiftCardBatchRequestForm(
        {"name": "x", "region": "XX", "count": "3", "amount": "1", "expires_on": "2020-01-01"}
    )

    assert not form.is_valid()
    assert "region" in form.errors
    assert "expires_on" not in form.errors


# --- the command ---------------------------------------------------------------------------------


def _issue(tmp_path, region: str):
    output = tmp_path / f"{region}.csv"
    out = io.StringIO()
    amount = "10" if region == "JP" else "10.00"
    call_command(
        "issue_giftcards",
        *("--count", "2", "--amount", amount, "--region", region),
        *("--expires", LAST_DAY.isoformat(), "--output", str(output)),
        stdout=out,
        stderr=io.StringIO(),
    )
    return output


@pytest.mark.parametrize("region", ["US", "JP"])
def test_the_command_issues_until_235959_of_the_last_day_in_the_region(clock, tmp_path, region):
    clock(BOUNDARIES[region][0])

    output = _issue(tmp_path, region)

    assert output.exists()
    assert set(GiftCard.objects.values_list("expires_on", flat=True)) == {LAST_DAY}


@pytest.mark.parametrize("region", ["US", "JP"])
def test_the_command_refuses_a_last_day_over_in_the_region(clock, tmp_path, region):
    clock(BOUNDARIES[region][1])
    before = ledger_state()

    with pytest.raises(CommandError, match=r"in the past in .*\(") as refusal:
        _issue(tmp_path, region)

    assert "\n" not in str(refusal.value)
    assert list(tmp_path.iterdir()) == []
    assert not GiftCardBatch.objects.exists()
    assert ledger_state() == before
