"""The demo promotions of docs/interface.md §11 that `seed_demo` loads: all eight, in every
region, amounts in the region's currency (yen x 150), windows in every region's time zone,
and a second run changes nothing."""

import datetime
import io

import pytest
from django.core.management import call_command

from catalog.models import Region
from catalog.regions import region_today
from promotions.codes import promo_code_hash
from promotions.demo import DEMO_PROMOTIONS, demo_promotions_load
from promotions.models import Promotion, PromotionAmount, PromotionCode

pytestmark = pytest.mark.django_db

CODES = ["WELCOME10", "BOOKS20", "SAVE5", "SHIPFREE", "LIMITED1", "CREDIT10", "OLDCODE", "SOON"]


@pytest.fixture
def seeded(settings, tmp_path):
    settings.DEBUG = True  # seed_demo refuses to run without it
    out = io.StringIO()
    call_command("seed_demo", "--code-file", str(tmp_path / "codes.csv"), stdout=out)
    return out.getvalue()


def _amounts(slug):
    return {
        a.currency: (a.amount_off, a.minimum_subtotal)
        for a in PromotionAmount.objects.filter(promotion__slug=slug)
    }


def test_seed_demo_loads_the_eight_promotions_active_with_their_codes(seeded):
    assert sorted(p.code for p in DEMO_PROMOTIONS if not p.automatic) == sorted(CODES)
    # The gift card bonus offer (automatic, no code): tests/promotions/test_giftcard_bonus_demo.py
    promotions = {p.code: p for p in Promotion.objects.exclude(codes=Promotion.Codes.AUTOMATIC)}
    assert sorted(promotions) == sorted(CODES)
    for code, promotion in promotions.items():
        assert promotion.slug == code.lower()
        assert promotion.status == Promotion.Status.ACTIVE
        assert promotion.codes == Promotion.Codes.VANITY
        row = PromotionCode.objects.get(promotion=promotion)
        assert row.code_hash == promo_code_hash(code)
        assert not row.single_use
    assert "9 demo promotion(s) created" in seeded
    assert seeded.count("\n") == 1


def test_every_region_but_limited1_and_amounts_in_each_currency(seeded):
    currencies = set(Region.objects.values_list("currency", flat=True))
    for promotion in Promotion.objects.prefetch_related("regions"):
        regions = {r.code for r in promotion.regions.all()}
        assert regions == ({"US"} if promotion.code == "LIMITED1" else set())
    assert _amounts("welcome10") == {
        "USD": (None, 2000),
        "GBP": (None, 2000),
        "EUR": (None, 2000),
        "JPY": (None, 3000),
    }
    assert _amounts("save5") == {
        "USD": (500, 5000),
        "GBP": (500, 5000),
        "EUR": (500, 5000),
        "JPY": (750, 7500),
    }
    assert _amounts("credit10") == {
        "USD": (1000, None),
        "GBP": (1000, None),
        "EUR": (1000, None),
        "JPY": (1500, None),
    }
    assert set(_amounts("save5")) == currencies


def test_each_rule_as_the_table_says(seeded):
    p = {promotion.code: promotion for promotion in Promotion.objects.all()}
    welcome = p["WELCOME10"]
    assert (welcome.kind, welcome.target, welcome.percent) == ("percent", "order", 10)
    assert welcome.first_order_only
    assert welcome.per_shopper_limit == 1
    books = p["BOOKS20"]
    assert (books.kind, books.target, books.percent) == ("percent", "items", 20)
    assert [c.slug for c in books.categories.all()] == ["books"]
    assert list(p["SAVE5"].not_combinable_with.all()) == [welcome]
    assert list(welcome.not_combinable_with.all()) == [p["SAVE5"]]  # symmetric
    assert (p["SHIPFREE"].kind, p["SHIPFREE"].target) == ("free_shipping", "shipping")
    limited = p["LIMITED1"]
    assert (limited.percent, limited.total_limit) == (15, 1)
    credit = p["CREDIT10"]
    assert (credit.kind, credit.credit_days, credit.per_shopper_limit) == ("credit", 30, 1)


def test_oldcode_is_over_and_soon_to_come_in_every_regions_time_zone(seeded):
    old = Promotion.objects.get(slug="oldcode")
    soon = Promotion.objects.get(slug="soon")
    for region in Region.objects.all():
        today = region_today(region)
        assert old.ends_on < today
        assert soon.starts_on > today
    earliest = min(region_today(r) for r in Region.objects.all())
    assert old.ends_on == earliest - datetime.timedelta(days=1)


def test_seed_demo_twice_changes_nothing(seeded, tmp_path):
    before = list(Promotion.objects.order_by("pk").values())
    amounts = list(PromotionAmount.objects.order_by("pk").values())
    codes = PromotionCode.objects.count()
    pairs = list(Promotion.not_combinable_with.through.objects.values_list("pk", flat=True))

    out = io.StringIO()
    call_command("seed_demo", "--code-file", str(tmp_path / "codes.csv"), stdout=out)

    assert "0 demo promotion(s) created" in out.getvalue()
    after = list(Promotion.objects.order_by("pk").values())
    for row in before + after:
        row.pop("updated_at")
    assert after == before
    assert list(PromotionAmount.objects.order_by("pk").values()) == amounts
    assert PromotionCode.objects.count() == codes
    assert list(Promotion.not_combinable_with.through.objects.values_list("pk", flat=True)) == pairs


def test_a_promotion_staff_changed_is_left_as_it_is(seeded):
    Promotion.objects.filter(slug="books20").update(percent=25)
    assert demo_promotions_load() == 0
    assert Promotion.objects.get(slug="books20").percent == 25


def test_a_deleted_demo_promotion_comes_back():
    Region.objects.get(code="US")  # the regions of the migrations
    assert demo_promotions_load() == 9
    PromotionCode.objects.filter(promotion__slug="shipfree").delete()
    Promotion.objects.filter(slug="shipfree").delete()
    assert demo_promotions_load() == 1
    assert Promotion.objects.count() == 9
