"""Refunds of orders placed with promotions (docs/interface.md §11 point 6): a refund of units
returns what was actually paid for them (the stored per-unit allocation), less the claw-back of
a benefit the units kept no longer qualify for (a buy-X-get-Y, a minimum), capped at the
refund, split card first then balance; a full refund gives the uses back; credit comes back
as credit with its old expiry.

Products are digital (nothing ships). Every test ends with a clean `wallet_reconcile`.
"""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from catalog.models import Product
from checkout.exceptions import RefundRefused
from checkout.models import Order, OrderLine, Payment, Refund
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE, checkout_quote_get
from checkout.services import order_cancel, order_place, order_refund, order_refund_units
from promotions.models import Promotion, PromotionAmount, PromotionRedemption
from tests.accounts.factories import UserFactory
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, balance, cart_fill, fund, new_key, shop_state
from tests.promotions.factories import promotion_with_code, unique_code_promotion
from wallet.models import CreditLot
from wallet.services import wallet_credit_grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    member = UserFactory(is_staff=True)
    member.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return member


@pytest.fixture
def shopper(db):
    return UserFactory(region_id="US")


@pytest.fixture
def book(db):
    return ProductFactory(name="A Book", prices={"US": 2000})


@pytest.fixture
def pen(db):
    return ProductFactory(name="A Pen", prices={"US": 1000})


def placed(user, *lines, codes=(), card=""):
    """An order of `lines` placed with `codes`, as the page places it (with its figures)."""
    cart_fill(user, *lines)
    session = {SESSION_PROMO_CODES: list(codes), SESSION_USE_BALANCE: True}
    quote = checkout_quote_get(user=user, session=session)
    order = order_place(
        user=user,
        session=session,
        idempotency_key=new_key(),
        card_number=card,
        expected_total=quote.total,
        expected_amount_due=quote.amount_due,
    )
    return Order.objects.get(pk=order.pk)


def line_of(order, product) -> OrderLine:
    return order.lines.get(product=product)


def refund_units(order, staff, units, **kwargs):
    return order_refund_units(
        order_id=order.pk,
        units={line.pk: n for line, n in units.items()},
        reason="returned",
        idempotency_key=kwargs.pop("key", None) or new_key(),
        by=staff,
        **kwargs,
    )


# --- what was actually paid -----------------------------------------------------------------


def test_a_units_refund_returns_what_those_units_paid(shopper, staff, book, pen):
    promotion_with_code("SAVE9", kind="fixed", amount_off=900)  # 9.00 over 50.00 of items
    fund(shopper, 10_000)
    order = placed(shopper, (book, 2), (pen, 1), codes=["SAVE9"])
    books, pens = line_of(order, book), line_of(order, pen)
    assert books.unit_discounts == [360, 360]
    assert pens.unit_discounts == [180]

    refund = refund_units(order, staff, {books: 1})

    assert (refund.from_balance, refund.from_card, refund.clawed_back) == (1640, 0, 0)
    assert refund.units == {str(books.pk): 1}
    books.refresh_from_db()
    assert books.refunded_quantity == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED


def test_every_unit_refunded_sums_to_what_was_paid_and_releases_the_use(shopper, staff, book, pen):
    save = promotion_with_code("SAVE7", kind="fixed", amount_off=700, total_limit=5)
    fund(shopper, 10_000)
    order = placed(shopper, (book, 3), (pen, 1), codes=["SAVE7"])
    books, pens = line_of(order, book), line_of(order, pen)

    first = refund_units(order, staff, {books: 2})
    second = refund_units(order, staff, {books: 1, pens: 1})

    assert first.amount + second.amount == order.total  # to the cent, over both refunds
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Promotion.objects.get(pk=save.pk).uses_count == 0
    assert PromotionRedemption.objects.get().released_at is not None
    assert balance(shopper) == 10_000


def test_the_units_that_paid_the_most_come_back_first(shopper, staff, pen):
    """7.00 off three 10.00 pens: 234, 233, 233. A return of one gives back a unit that paid
    10.00 - 2.33 (the smallest discount first)."""
    promotion_with_code("SAVE7", kind="fixed", amount_off=700)
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 3), codes=["SAVE7"])
    pens = line_of(order, pen)
    assert sorted(pens.unit_discounts) == [233, 233, 234]

    assert refund_units(order, staff, {pens: 1}).amount == 767
    assert refund_units(order, staff, {pens: 1}).amount == 767
    assert refund_units(order, staff, {pens: 1}).amount == 766


def test_the_refund_goes_to_the_card_first_then_the_balance(shopper, staff, book):
    promotion_with_code("SAVE4", kind="fixed", amount_off=400)
    fund(shopper, 1000)
    order = placed(shopper, (book, 2), codes=["SAVE4"], card=APPROVED)  # 36.00: 10 + 26
    assert (order.balance_applied, order.card_charged) == (1000, 2600)
    # The capture runs on commit (not in this test's transaction): as it would have ended.
    Payment.objects.filter(order=order).update(status=Payment.Status.CAPTURED)

    refund = refund_units(order, staff, {line_of(order, book): 2})

    assert (refund.from_card, refund.from_balance) == (2600, 1000)


# --- claw-back -------------------------------------------------------------------------------


def test_a_minimum_no_longer_met_claws_back_that_benefit_capped_at_the_refund(
    shopper, staff, book, pen
):
    """10% off from 25.00: a book and a pen (30.00) get 3.00 off (2.00 + 1.00). The pen comes
    back: the book alone (20.00) no longer meets the minimum, so its 2.00 is kept back."""
    promotion_with_code("TENOFF", percent=10, minimum_subtotal=2500)
    fund(shopper, 10_000)
    order = placed(shopper, (book, 1), (pen, 1), codes=["TENOFF"])
    assert order.discount == 300

    refund = refund_units(order, staff, {line_of(order, pen): 1})

    assert (refund.amount, refund.clawed_back) == (900 - 200, 200)
    assert PromotionRedemption.objects.get().clawed_back == 200
    # Then the book too: its claw-back comes back with it; in all, what was paid.
    last = refund_units(order, staff, {line_of(order, book): 1})
    assert last.amount == 1800 + 200
    assert refund.amount + last.amount == order.total
    assert PromotionRedemption.objects.get().clawed_back == 0


def test_a_claw_back_larger_than_the_refund_is_capped_and_units_still_recorded(
    shopper, staff, book, pen
):
    """20% off from 25.00: book 20.00 and pen 10.00 → 4.00 + 2.00 off. The pen (paid 8.00)
    comes back and the book's 4.00 no longer qualifies: 8.00 - 4.00 = 4.00 back."""
    promotion_with_code("TWENTY", percent=20, minimum_subtotal=2500)
    fund(shopper, 10_000)
    order = placed(shopper, (book, 1), (pen, 1), codes=["TWENTY"])
    refund = refund_units(order, staff, {line_of(order, pen): 1})
    assert (refund.amount, refund.clawed_back) == (400, 400)


def test_buy_two_get_one_claw_back_when_the_units_kept_no_longer_qualify(shopper, staff, pen):
    """Buy 2 get 1 free: three pens, one free (30.00 for 20.00). One comes back: the two kept
    no longer qualify, so nothing is refunded (they cost 20.00, which was paid)."""
    promotion_with_code(
        "B2G1",
        kind="buy_x_get_y",
        target="items",
        buy_quantity=2,
        get_quantity=1,
        percent=100,
        products=[pen],
    )
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 3), codes=["B2G1"])
    pens = line_of(order, pen)
    assert sorted(pens.unit_discounts) == [0, 0, 1000]

    first = refund_units(order, staff, {pens: 1})
    assert (first.amount, first.clawed_back) == (0, 1000)
    second = refund_units(order, staff, {pens: 1})
    assert (second.amount, second.clawed_back) == (1000, 0)  # the one kept costs 10.00
    third = refund_units(order, staff, {pens: 1})
    assert third.amount == 1000  # the claw-back comes back with the last unit
    assert first.amount + second.amount + third.amount == order.total
    assert PromotionRedemption.objects.get().clawed_back == 0


# --- refusals write nothing ------------------------------------------------------------------


@pytest.mark.parametrize(
    "units",
    [{}, {"line": 0}, {"line": 3}, {"other": 1}],
    ids=["none", "zero", "more-than-bought", "not-this-order"],
)
def test_a_refused_units_refund_writes_nothing(shopper, staff, pen, units):
    promotion_with_code("SAVE2", kind="fixed", amount_off=200)
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 2), codes=["SAVE2"])
    line = line_of(order, pen)
    ids = {"line": line.pk, "other": line.pk + 1000}
    before = (
        shop_state(),
        list(OrderLine.objects.values()),
        list(PromotionRedemption.objects.values()),
    )
    with pytest.raises(RefundRefused):
        order_refund_units(
            order_id=order.pk,
            units={ids[key]: n for key, n in units.items()},
            reason="returned",
            idempotency_key=new_key(),
            by=staff,
        )
    after = (
        shop_state(),
        list(OrderLine.objects.values()),
        list(PromotionRedemption.objects.values()),
    )
    assert after == before


def test_a_units_refund_replayed_returns_the_first_and_another_is_a_conflict(shopper, staff, pen):
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 2))
    line = line_of(order, pen)
    first = refund_units(order, staff, {line: 1}, key="k1")
    assert refund_units(order, staff, {line: 1}, key="k1").pk == first.pk
    with pytest.raises(RefundRefused) as refused:
        refund_units(order, staff, {line: 2}, key="k1")
    assert refused.value.reason == "conflict"
    assert Refund.objects.count() == 1


# --- release and credit ----------------------------------------------------------------------


def test_a_full_amount_refund_releases_usage_budget_and_single_use_code(shopper, staff, pen):
    promotion = unique_code_promotion(
        codes=["GIFT1234"], kind="fixed", amount_off=300, budget=1000, total_limit=3
    )
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 1), codes=["GIFT1234"])
    assert PromotionAmount.objects.get().budget_used == 300

    order_refund(
        order_id=order.pk,
        from_balance=order.balance_applied,
        from_card=0,
        card_to_balance=False,
        reason="cancelled",
        idempotency_key=new_key(),
        by=staff,
    )

    promotion.refresh_from_db()
    assert promotion.uses_count == 0
    assert PromotionAmount.objects.get().budget_used == 0
    assert promotion.code_rows.get().redeemed_at is None
    assert PromotionRedemption.objects.get().released_at is not None


def test_no_release_when_the_setting_is_off(shopper, staff, pen, settings):
    settings.PROMOTION_RELEASE_ON_REFUND = False
    save = promotion_with_code("SAVE2", kind="fixed", amount_off=200)
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 1), codes=["SAVE2"])
    refund_units(order, staff, {line_of(order, pen): 1})
    assert Promotion.objects.get(pk=save.pk).uses_count == 1
    assert PromotionRedemption.objects.get().released_at is None


def test_a_refund_returns_credit_as_credit_with_its_old_expiry(shopper, staff, book, pen):
    lot = wallet_credit_grant(
        user=shopper,
        amount=1000,
        currency="USD",
        expires_on=timezone.localdate() + datetime.timedelta(days=9),
        idempotency_key=f"grant:{shopper.pk}",
        description="Promotional credit",
        reference=None,
    )
    expires = CreditLot.objects.get(pk=lot.pk).expires_at
    fund(shopper, 2000)
    order = placed(shopper, (book, 1), (pen, 1))  # 30.00: 10.00 credit + 20.00 money
    assert (order.balance_applied, order.credit_applied) == (3000, 1000)
    assert CreditLot.objects.get(pk=lot.pk).remaining == 0

    refund_units(order, staff, {line_of(order, book): 1, line_of(order, pen): 1})

    back = CreditLot.objects.get(pk=lot.pk)
    assert (back.remaining, back.expires_at) == (1000, expires)
    assert balance(shopper) == 3000


# --- cancellation ----------------------------------------------------------------------------


@pytest.fixture
def lamp(db):
    return ProductFactory(name="A Lamp", kind=Product.Kind.PHYSICAL, prices={"US": 3000})


def test_a_cancellation_returns_everything_and_gives_the_uses_back(shopper, staff, lamp):
    save = promotion_with_code("SAVE5", kind="fixed", amount_off=500, total_limit=1)
    lot = wallet_credit_grant(
        user=shopper,
        amount=1000,
        currency="USD",
        expires_on=timezone.localdate() + datetime.timedelta(days=3),
        idempotency_key=f"grant:{shopper.pk}",
        description="Promotional credit",
        reference=None,
    )
    expires = CreditLot.objects.get(pk=lot.pk).expires_at
    fund(shopper, 500)
    order = placed(shopper, (lamp, 2), codes=["SAVE5"], card=APPROVED)  # 55.00: 10 + 5 + 40
    assert (order.credit_applied, order.balance_applied, order.card_charged) == (1000, 1500, 4000)
    Payment.objects.filter(order=order).update(status=Payment.Status.CAPTURED)  # as on commit

    refund = order_cancel(order_id=order.pk, reason="changed mind", idempotency_key="c1", by=staff)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert (refund.from_balance, refund.from_card) == (1500, 4000)
    assert line_of(order, lamp).refunded_quantity == 2
    back = CreditLot.objects.get(pk=lot.pk)
    assert (back.remaining, back.expires_at) == (1000, expires)
    assert balance(shopper) == 1500
    assert Promotion.objects.get(pk=save.pk).uses_count == 0
    assert order_cancel(order_id=order.pk, reason="again", idempotency_key="c1", by=staff) == refund


def test_a_delivered_order_cannot_be_cancelled_and_nothing_is_written(shopper, staff, pen):
    promotion_with_code("SAVE2", kind="fixed", amount_off=200)
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 1), codes=["SAVE2"])  # digital: delivered at once
    before = (shop_state(), list(PromotionRedemption.objects.values()))
    with pytest.raises(RefundRefused):
        order_cancel(order_id=order.pk, reason="no", idempotency_key=new_key(), by=staff)
    assert (shop_state(), list(PromotionRedemption.objects.values())) == before


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(staff):
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "view_orderline", "view_refund"])
    )
    return login_staff(Client(), staff)


def test_the_order_admin_shows_its_promotions_and_each_units_discount(shopper, admin_client, pen):
    promotion_with_code("SAVE7", kind="fixed", amount_off=700)
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 3), codes=["SAVE7"])
    page = admin_client.get(f"/admin/checkout/order/{order.pk}/change/").content.decode()
    assert "SAVE7: $7.00" in page
    assert "$2.34, $2.33, $2.33" in page
    assert "Refund units" in page


def test_the_admin_refunds_units_after_stating_what_they_paid(shopper, admin_client, book, pen):
    promotion_with_code("TENOFF", percent=10, minimum_subtotal=2500)
    fund(shopper, 10_000)
    order = placed(shopper, (book, 1), (pen, 1), codes=["TENOFF"])
    pens = line_of(order, pen)
    url = f"/admin/checkout/order/{order.pk}/refund-units/"
    form = admin_client.get(url)
    assert form.status_code == 200
    key = form.context["form"].initial["idempotency_key"]
    data = {f"line_{pens.pk}": "1", "reason": "broken", "idempotency_key": key}

    confirm = admin_client.post(url, data).content.decode()
    assert "they paid $9.00, $2.00 kept back" in confirm
    assert "$7.00 of the balance part (to the balance)" in confirm
    assert not Refund.objects.exists()

    done = admin_client.post(url, data | {"confirm": "Confirm"})
    assert done.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.clawed_back, refund.units) == (700, 200, {str(pens.pk): 1})
    admin_client.post(url, data | {"confirm": "Confirm"})  # a replayed confirm: the same refund
    assert Refund.objects.count() == 1


def test_the_admin_refuses_more_units_than_are_left_and_writes_nothing(shopper, admin_client, pen):
    fund(shopper, 10_000)
    order = placed(shopper, (pen, 1))
    pens = line_of(order, pen)
    before = shop_state()
    response = admin_client.post(
        f"/admin/checkout/order/{order.pk}/refund-units/",
        {f"line_{pens.pk}": "2", "reason": "x", "idempotency_key": "a" * 32, "confirm": "1"},
    )
    assert response.status_code == 200
    assert 'data-testid="form-error"' in response.content.decode()
    assert shop_state() == before
