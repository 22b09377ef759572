"""Insiders never benefit: a promotion's creator, approver and last changer cannot use it.

For them it does not exist (`not_found`, counted like an unknown code): a typed code, an
automatic offer (they just do not get it), the re-check when the order is placed and a
credit code. Another shopper still gets it.
"""

import pytest

from catalog.models import Region
from checkout.exceptions import CheckoutChanged
from checkout.models import Order
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE, checkout_quote_get
from checkout.services import order_place
from promotions.engine import RuleResult, rule_check
from promotions.exceptions import PromotionRefused
from promotions.models import Promotion, PromotionRedemption
from promotions.selectors import entered_codes_lookup, promotion_specs_get, shopper_input_get
from promotions.services import promotion_credit_apply
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill, fund, new_key
from tests.promotions.engine_inputs import line, shopper, spec
from tests.promotions.factories import automatic_promotion, promotion_with_code
from tests.wallet.credit_factories import credit_state
from wallet.models import CreditLot

pytestmark = pytest.mark.django_db

ROLES = ["created_by", "approved_by", "changed_by"]


@pytest.fixture
def staff():
    """Three different staff members, one per role (a creator never approves their own)."""
    return {role: UserFactory(region_id="US", is_staff=True) for role in ROLES}


@pytest.fixture
def book():
    return ProductFactory(name="A Book", prices={"US": 1000})


def session_with(*codes) -> dict:
    return {SESSION_PROMO_CODES: list(codes), SESSION_USE_BALANCE: True}


def _insider(staff, role):
    return staff[role]


# --- the rule, pure --------------------------------------------------------------------------


@pytest.mark.parametrize("who", [1, 2, 3])
def test_the_rule_answers_not_found_for_each_insider(who):
    promotion = spec(staff_ids=frozenset({1, 2, 3}))
    result = rule_check(spec=promotion, lines=[line(1, 1000)], shopper=shopper(user_id=who))
    assert result == RuleResult(False, "not_found")


def test_the_rule_passes_for_another_shopper():
    promotion = spec(staff_ids=frozenset({1, 2, 3}))
    assert rule_check(spec=promotion, lines=[line(1, 1000)], shopper=shopper(user_id=4)).passed


def test_the_specs_carry_the_three_insiders_without_another_query(staff, django_assert_num_queries):
    promotion = promotion_with_code("SAVE10", **staff)
    region = Region.objects.get(code="US")
    with django_assert_num_queries(1):
        (found,) = promotion_specs_get(region=region, currency="USD", promotion_ids=[promotion.pk])
    assert found.staff_ids == {user.pk for user in staff.values()}


# --- a typed code, an automatic offer, the order ---------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_an_insider_is_refused_a_code_as_not_found_and_another_shopper_gets_it(staff, book, role):
    promotion_with_code("SAVE10", percent=10, **staff)
    insider = _insider(staff, role)
    cart_fill(insider, (book, 1))

    quote = checkout_quote_get(user=insider, session=session_with("SAVE10"))

    assert quote.discount == 0
    (refusal,) = quote.refusals
    assert refusal.reason == "not_found"
    # Word for word what an unknown code gets: existence is not revealed.
    cart_fill(other := UserFactory(region_id="US"), (book, 1))
    unknown = checkout_quote_get(user=other, session=session_with("SAVE11")).refusals[0]
    assert refusal.message == unknown.message.replace("SAVE11", "SAVE10")
    assert checkout_quote_get(user=other, session=session_with("SAVE10")).discount == 100


@pytest.mark.parametrize("role", ROLES)
def test_the_code_lookup_hides_the_code_from_an_insider(staff, role):
    promotion = promotion_with_code("SAVE10", **staff)
    insider = _insider(staff, role)
    (theirs,) = entered_codes_lookup(codes=["SAVE10"], user_id=insider.pk)
    assert theirs.promotion_id is None  # the code box counts it as an unknown code's guess
    (others,) = entered_codes_lookup(codes=["SAVE10"], user_id=UserFactory().pk)
    assert others.promotion_id == promotion.pk


@pytest.mark.parametrize("role", ROLES)
def test_an_insider_does_not_get_an_automatic_offer(staff, book, role):
    automatic_promotion(name="Everything 10% off", percent=10, **staff)
    insider = _insider(staff, role)
    cart_fill(insider, (book, 1))
    quote = checkout_quote_get(user=insider, session=session_with())
    assert (quote.discount, quote.applied, quote.refusals) == (0, (), ())
    other = UserFactory(region_id="US")
    cart_fill(other, (book, 1))
    assert checkout_quote_get(user=other, session=session_with()).discount == 100


@pytest.mark.parametrize("role", ROLES)
def test_a_shopper_who_became_an_insider_meanwhile_cannot_place_the_order_with_it(
    staff, book, role
):
    shopper_user = UserFactory(region_id="US")
    promotion = promotion_with_code("SAVE10", percent=10, **staff)
    cart_fill(shopper_user, (book, 1))
    fund(shopper_user, 2000)
    session = session_with("SAVE10")
    quote = checkout_quote_get(user=shopper_user, session=session)
    assert quote.discount == 100
    # Staff hands the promotion to this shopper's account between the summary and the order.
    Promotion.objects.filter(pk=promotion.pk).update(**{role: shopper_user})

    with pytest.raises(CheckoutChanged) as refused:
        order_place(
            user=shopper_user,
            session=session,
            idempotency_key=new_key(),
            card_number="",
            expected_total=quote.total,
            expected_amount_due=quote.amount_due,
        )
    assert refused.value.reason == "changed"
    assert not Order.objects.exists()
    assert not PromotionRedemption.objects.exists()


# --- a credit code -------------------------------------------------------------------------


def _credit_apply(user, code="CREDIT10"):
    region = Region.objects.get(code=user.region_id)
    # The code box's look-up without the shopper: the credit service's own re-check refuses.
    entered = entered_codes_lookup(codes=[code])[0]
    specs = promotion_specs_get(
        region=region, currency=region.currency, promotion_ids=[entered.promotion_id]
    )
    promotion = next(s for s in specs if s.id == entered.promotion_id)
    who = shopper_input_get(user=user, has_orders=False, promotion_ids=[promotion.id])
    return promotion_credit_apply(user=user, entered=entered, spec=promotion, shopper=who)


@pytest.mark.parametrize("role", ROLES)
def test_an_insider_is_refused_a_credit_code_as_not_found_with_nothing_written(staff, role):
    promotion_with_code(
        "CREDIT10",
        kind=Promotion.Kind.CREDIT,
        percent=None,
        amount_off=1000,
        credit_days=30,
        **staff,
    )
    insider = _insider(staff, role)
    before = (credit_state(), list(Promotion.objects.values_list("uses_count", flat=True)))

    with pytest.raises(PromotionRefused) as refused:
        _credit_apply(insider)

    assert refused.value.reason == "not_found"
    assert (credit_state(), list(Promotion.objects.values_list("uses_count", flat=True))) == before
    assert not PromotionRedemption.objects.exists()
    other = UserFactory(region_id="US")
    assert _credit_apply(other).amount == 1000
    assert CreditLot.objects.get().user == other
