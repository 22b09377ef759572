"""promotions.selectors: what the engine is fed, and in how many queries (constant in rows)."""

import datetime

import pytest
from django.utils import timezone

from catalog.models import Region
from promotions.models import Promotion, PromotionRedemption
from promotions.selectors import entered_codes_lookup, promotion_specs_get, shopper_input_get
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.promotions.factories import (
    automatic_promotion,
    promotion_with_code,
    unique_code_promotion,
)

pytestmark = pytest.mark.django_db


def _redeem(promotion, user, number, *, released=False):
    # A read test: the rows the redemption services write, written directly.
    return PromotionRedemption.objects.create(
        promotion=promotion,
        user=user,
        order_number=number,
        currency="USD",
        amount=100,
        released_at=timezone.now() if released else None,
    )


def test_codes_are_found_by_their_hash_in_any_case_with_spaces_and_dashes():
    welcome = promotion_with_code("WELCOME10", percent=10)
    [found, unknown, typo] = entered_codes_lookup(codes=["welcome-10", "NOSUCH", "ab"])
    assert (found.code, found.promotion_id, found.already_redeemed) == (
        "WELCOME10",
        welcome.pk,
        False,
    )
    assert found.code_id == welcome.code_rows.get().pk
    assert (unknown.code, unknown.promotion_id) == ("NOSUCH", None)
    assert typo.promotion_id is None


@pytest.mark.parametrize("status", ["disabled", "pending_approval", "rejected"])
def test_a_code_of_a_promotion_that_is_not_active_is_not_found(status):
    promotion_with_code("SAVE5", kind="fixed", amount_off=500, status=status)
    [entry] = entered_codes_lookup(codes=["SAVE5"])
    assert entry.promotion_id is None


def test_a_used_single_use_code_is_already_redeemed():
    promotion = unique_code_promotion(codes=["AAAA1111", "BBBB2222"], slug="uniq", percent=15)
    used = promotion.code_rows.get(last4="1111")
    used.redeemed_at = timezone.now()
    used.save()
    [first, second] = entered_codes_lookup(codes=["AAAA1111", "bbbb2222"])
    assert (first.promotion_id, first.already_redeemed) == (promotion.pk, True)
    assert (second.promotion_id, second.already_redeemed) == (promotion.pk, False)


@pytest.mark.parametrize("size", [1, 6])
def test_code_lookup_is_one_query(size, django_assert_num_queries):
    codes = [f"CODE{n}" for n in range(size)]
    for code in codes:
        promotion_with_code(code, percent=5)
    with django_assert_num_queries(1):
        found = entered_codes_lookup(codes=codes)
    assert all(entry.promotion_id for entry in found)


def test_specs_carry_amounts_in_the_currency_and_every_relation():
    books = CategoryFactory(slug="books")
    product = ProductFactory()
    welcome = promotion_with_code("WELCOME10", percent=10, minimum_subtotal=2000)
    save5 = promotion_with_code(
        "SAVE5",
        kind="fixed",
        amounts={"USD": {"amount_off": 500, "budget": 10000, "budget_used": 2500}},
        not_combinable_with=[welcome],
        regions=["US", "GB"],
        total_limit=10,
        uses_count=4,
        starts_on=datetime.date(2026, 1, 1),
    )
    books20 = promotion_with_code(
        "BOOKS20", target="items", percent=20, categories=[books], products=[product]
    )
    specs = {
        spec.slug: spec
        for spec in promotion_specs_get(
            region=Region.objects.get(code="US"),
            currency="USD",
            promotion_ids=[welcome.pk, save5.pk, books20.pk],
        )
    }
    assert set(specs) == {"welcome10", "save5", "books20"}
    save = specs["save5"]
    assert (save.amount_off, save.budget_left, save.uses_left) == (500, 7500, 6)
    assert save.not_combinable_with == {welcome.pk}
    assert specs["welcome10"].not_combinable_with == {save5.pk}  # symmetric
    assert save.region_codes == {"US", "GB"}
    assert save.starts_on == datetime.date(2026, 1, 1)
    assert (save.code, save.automatic, save.active) == ("SAVE5", False, True)
    assert specs["welcome10"].minimum_subtotal == 2000
    assert specs["books20"].category_ids == {books.pk}
    assert specs["books20"].product_ids == {product.pk}
    assert specs["books20"].has_currency_amounts is False
    assert specs["books20"].budget_left is None


def test_specs_in_another_currency_have_no_amounts():
    save5 = promotion_with_code("SAVE5", kind="fixed", amount_off=500)
    [spec] = promotion_specs_get(
        region=Region.objects.get(code="JP"), currency="JPY", promotion_ids=[save5.pk]
    )
    assert (spec.has_currency_amounts, spec.amount_off) == (False, None)


def test_automatic_offers_of_the_region_come_without_being_asked():
    everywhere = automatic_promotion(slug="everywhere")
    automatic_promotion(slug="gb-only", regions=["GB"])
    us_too = automatic_promotion(slug="us-and-gb", regions=["US", "GB"])
    automatic_promotion(slug="off", status=Promotion.Status.DISABLED)
    promotion_with_code("NOTASKED")
    disabled = promotion_with_code("ASKED", status=Promotion.Status.DISABLED)
    specs = promotion_specs_get(
        region=Region.objects.get(code="US"), currency="USD", promotion_ids=[disabled.pk]
    )
    assert [spec.slug for spec in specs] == ["everywhere", "us-and-gb", "asked"]
    assert [spec.pk for spec in (everywhere, us_too)] == [specs[0].id, specs[1].id]
    assert specs[2].active is False


@pytest.mark.parametrize("size", [1, 8])
def test_specs_are_one_query(size, django_assert_num_queries):
    categories = [CategoryFactory() for _ in range(3)]
    ids = []
    for n in range(size):
        promotion = promotion_with_code(
            f"CODE{n}", amount_off=100 + n, categories=categories, regions=["US"]
        )
        automatic_promotion(not_combinable_with=[promotion], categories=categories[:n])
        ids.append(promotion.pk)
    region = Region.objects.get(code="US")
    with django_assert_num_queries(1):
        specs = promotion_specs_get(region=region, currency="USD", promotion_ids=ids)
    assert len(specs) == 2 * size


def test_shopper_uses_count_unreleased_redemptions_only():
    user = UserFactory(region_id="GB")
    other = UserFactory()
    welcome = promotion_with_code("WELCOME10")
    save5 = promotion_with_code("SAVE5")
    _redeem(welcome, user, "CP-1")
    _redeem(welcome, user, "CP-2")
    _redeem(save5, user, "CP-3", released=True)
    _redeem(save5, other, "CP-4")
    shopper = shopper_input_get(user=user, has_orders=True, promotion_ids=[welcome.pk, save5.pk])
    assert shopper.uses == {welcome.pk: 2}
    assert (shopper.region_code, shopper.currency, shopper.locale) == ("GB", "GBP", "en_GB")
    assert shopper.has_orders is True
    assert shopper.user_id == user.pk


@pytest.mark.parametrize("size", [1, 6])
def test_shopper_input_is_one_query(size, django_assert_num_queries):
    user = UserFactory()
    user.region  # noqa: B018 (checkout has the shopper's region loaded already)
    ids = []
    for n in range(size):
        promotion = promotion_with_code(f"CODE{n}")
        _redeem(promotion, user, f"CP-{n}")
        ids.append(promotion.pk)
    with django_assert_num_queries(1):
        shopper = shopper_input_get(user=user, has_orders=False, promotion_ids=ids)
    assert shopper.uses == dict.fromkeys(ids, 1)
    with django_assert_num_queries(0):
        shopper_input_get(user=user, has_orders=False, promotion_ids=[])


def test_a_quote_needs_three_queries_together(django_assert_num_queries):
    user = UserFactory()
    user.region  # noqa: B018
    for n in range(5):
        promotion_with_code(f"CODE{n}", categories=[CategoryFactory()])
        automatic_promotion(regions=["US"])
    with django_assert_num_queries(3):
        entered = entered_codes_lookup(codes=[f"CODE{n}" for n in range(5)])
        specs = promotion_specs_get(
            region=user.region,
            currency="USD",
            promotion_ids=[entry.promotion_id for entry in entered],
        )
        shopper_input_get(user=user, has_orders=False, promotion_ids=[s.id for s in specs])
    assert len(specs) == 10
