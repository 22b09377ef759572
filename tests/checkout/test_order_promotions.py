"""Placing an order with promotions (docs/interface.md §11, docs/promotions.md): the uses
claimed inside `order_place`'s transaction, the per-unit allocation stored on the lines, a
promotion that no longer applies refused `changed` with nothing written, promotional credit
paid first, and a failed card capture giving credit back to its lots and the uses back.

Products are digital (nothing ships) unless a test says otherwise, so the figures are the
items' own. Every test ends with a clean `wallet_reconcile` (conftest).
"""

import datetime

import pytest
from django.utils import timezone

from checkout.exceptions import CheckoutChanged
from checkout.models import Order, Payment
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE, checkout_quote_get
from checkout.services import order_place
from promotions.models import Promotion, PromotionAmount, PromotionRedemption
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.checkout.shopping import APPROVED, balance, cart_fill, fund, new_key, shop_state
from tests.promotions.factories import (
    automatic_promotion,
    promotion_with_code,
    unique_code_promotion,
)
from wallet.models import CreditLot
from wallet.services import wallet_credit_grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper(db):
    return UserFactory(region_id="US")


@pytest.fixture
def book(db):
    return ProductFactory(
        name="A Book", category=CategoryFactory(slug="books", name="Books"), prices={"US": 1000}
    )


@pytest.fixture
def mug(db):
    return ProductFactory(name="A Mug", prices={"US": 999})


def session_with(*codes, use_balance=True) -> dict:
    return {SESSION_PROMO_CODES: list(codes), SESSION_USE_BALANCE: use_balance}


def place(user, session, *, card="", agreed=False, key=None):
    """`order_place` as the page calls it (`agreed`: with the summary's figures) or as a
    service call (without them)."""
    figures = {}
    if agreed:
        quote = checkout_quote_get(user=user, session=session)
        figures = {"expected_total": quote.total, "expected_amount_due": quote.amount_due}
    return order_place(
        user=user, session=session, idempotency_key=key or new_key(), card_number=card, **figures
    )


def promotion_state():
    return (
        list(Promotion.objects.order_by("pk").values_list("pk", "uses_count")),
        list(PromotionAmount.objects.order_by("pk").values_list("pk", "budget_used")),
        list(PromotionRedemption.objects.order_by("pk").values()),
    )


# --- the allocation stored ----------------------------------------------------------------


def test_the_order_stores_each_units_discount_and_one_redemption_per_promotion(shopper, book, mug):
    promotion = promotion_with_code("SAVE7", kind="fixed", amount_off=700)
    cart_fill(shopper, (book, 3), (mug, 1))  # 30.00 + 9.99 = 39.99

    order = place(shopper, session_with("SAVE7"), card=APPROVED, agreed=True)

    assert (order.subtotal, order.discount, order.total, order.card_charged) == (
        3999,
        700,
        3299,
        3299,
    )
    lines = {line.product_id: line for line in order.lines.all()}
    assert len(lines[book.pk].unit_discounts) == 3
    assert len(lines[mug.pk].unit_discounts) == 1
    assert sum(lines[book.pk].unit_discounts) == lines[book.pk].discount
    assert lines[book.pk].discount + lines[mug.pk].discount == 700  # to the cent
    assert all(0 <= part <= 1000 for part in lines[book.pk].unit_discounts)
    redemption = PromotionRedemption.objects.get()
    assert (redemption.promotion_id, redemption.order_number, redemption.amount) == (
        promotion.pk,
        order.number,
        700,
    )
    assert redemption.allocation == {
        str(book.pk): lines[book.pk].unit_discounts,
        str(mug.pk): lines[mug.pk].unit_discounts,
    }
    promotion.refresh_from_db()
    assert promotion.uses_count == 1
    (snapshot,) = order.promotions
    assert (snapshot["promotion_id"], snapshot["code"], snapshot["amount"]) == (
        promotion.pk,
        "SAVE7",
        700,
    )
    assert sorted(snapshot["eligible"]) == sorted([book.pk, mug.pk])


def test_an_order_without_promotions_stores_zero_discounts(shopper, book):
    cart_fill(shopper, (book, 2))
    order = place(shopper, session_with(), card=APPROVED)
    line = order.lines.get()
    assert (line.discount, line.unit_discounts) == (0, [0, 0])
    assert order.promotions == []
    assert not PromotionRedemption.objects.exists()


# --- changed: nothing written ---------------------------------------------------------------


def _refused_changed(user, session, **kwargs):
    """`place` refused `changed`, with nothing written: no order, payment, ledger movement,
    redemption, use or budget."""
    before = (shop_state(), promotion_state())
    with pytest.raises(CheckoutChanged) as refused:
        place(user, session, **kwargs)
    assert refused.value.reason == "changed"
    assert (shop_state(), promotion_state()) == before
    return refused.value


@pytest.fixture
def meanwhile(monkeypatch):
    """`meanwhile(change, at=...)`: run `change` inside the order's transaction, just before
    its fresh quote ("quote") or just before its claim under the promotion locks ("claim"):
    another shopper's order or staff getting in between the summary and this order."""
    from checkout.services import order_promotions, orders

    def install(change, *, at):
        if at == "quote":
            real, calls = orders.checkout_quote_get, []

            def quote(**kwargs):
                calls.append(1)
                if len(calls) == 2:
                    change()
                return real(**kwargs)

            monkeypatch.setattr(orders, "checkout_quote_get", quote)
        else:
            real_claim = order_promotions.promotion_redemptions_claim

            def claim(**kwargs):
                change()
                return real_claim(**kwargs)

            monkeypatch.setattr(order_promotions, "promotion_redemptions_claim", claim)

    return install


@pytest.mark.parametrize("at", ["quote", "claim"])
def test_a_code_whose_usage_limit_was_reached_meanwhile_is_refused_changed(
    shopper, book, meanwhile, gateway, at
):
    limited = promotion_with_code("LIMITED1", percent=15, total_limit=1)
    cart_fill(shopper, (book, 1))
    session = session_with("LIMITED1")
    assert checkout_quote_get(user=shopper, session=session).discount == 150
    # Another shopper's order takes the last use between the summary and this order (its
    # redemption row is left out: only the count matters to this one).
    meanwhile(lambda: Promotion.objects.filter(pk=limited.pk).update(uses_count=1), at=at)

    with pytest.raises(CheckoutChanged) as refused:
        place(shopper, session, card=APPROVED)

    assert refused.value.reason == "changed"
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    assert not PromotionRedemption.objects.exists()
    assert gateway.captured == set()
    assert len(gateway.voided) == 1  # the hold of the refused order, released


@pytest.mark.parametrize("at", ["quote", "claim"])
def test_a_single_use_code_used_in_another_tab_is_refused_changed(shopper, book, meanwhile, at):
    promotion = unique_code_promotion(codes=["ONCEONLY1"], percent=10)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    session = session_with("ONCEONLY1")
    assert checkout_quote_get(user=shopper, session=session).discount == 100
    code = promotion.code_rows.get()
    meanwhile(
        lambda: type(code).objects.filter(pk=code.pk).update(redeemed_at=timezone.now()), at=at
    )
    with pytest.raises(CheckoutChanged):
        place(shopper, session)
    assert not Order.objects.exists()
    assert not PromotionRedemption.objects.exists()
    assert balance(shopper) == 2000


def test_a_disabled_promotion_refuses_the_order_changed_with_nothing_written(
    shopper, book, meanwhile
):
    promotion = promotion_with_code("SAVE1", kind="fixed", amount_off=100)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    meanwhile(
        lambda: Promotion.objects.filter(pk=promotion.pk).update(status=Promotion.Status.DISABLED),
        at="claim",
    )
    _refused_changed(shopper, session_with("SAVE1"), agreed=True)


def test_the_shoppers_own_limit_reached_in_another_tab_is_refused_changed(shopper, book, meanwhile):
    welcome = promotion_with_code("WELCOME10", percent=10, per_shopper_limit=1)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)

    def other_tab():
        PromotionRedemption.objects.create(
            promotion=welcome,
            user=shopper,
            order_number="CP-OTHERTAB",
            currency="USD",
            amount=100,
            once_per_shopper=True,
        )

    meanwhile(other_tab, at="claim")
    with pytest.raises(CheckoutChanged):
        place(shopper, session_with("WELCOME10"))
    assert not Order.objects.exists()
    # (The other tab's row was written inside this order's rolled-back transaction.)
    assert not PromotionRedemption.objects.exists()


@pytest.mark.parametrize("at", ["quote", "claim"])
def test_a_budget_trim_with_the_shoppers_figures_is_changed(shopper, book, meanwhile, at):
    automatic_promotion(kind="fixed", amount_off=500, budget=1000, budget_used=700)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    session = session_with()
    assert checkout_quote_get(user=shopper, session=session).discount == 300  # trimmed
    meanwhile(lambda: PromotionAmount.objects.update(budget_used=800), at=at)
    before = (shop_state(), promotion_state())
    with pytest.raises(CheckoutChanged):
        place(shopper, session, agreed=True)
    # (`meanwhile` itself wrote budget_used inside the rolled-back transaction.)
    assert (shop_state(), promotion_state()) == before


def test_a_budget_trim_without_figures_is_paid_from_the_balance(shopper, book, meanwhile):
    """A service call (no figures agreed): the use is trimmed to the budget left under its
    lock and the difference is paid from the balance, never more on the card."""
    automatic_promotion(kind="fixed", amount_off=500, budget=1000)
    cart_fill(shopper, (book, 1))
    fund(shopper, 1000)
    session = session_with()
    assert checkout_quote_get(user=shopper, session=session).discount == 500
    # Another order used 800 of the budget just before this order's claim.
    meanwhile(lambda: PromotionAmount.objects.update(budget_used=800), at="claim")
    order = place(shopper, session)
    assert (order.discount, order.total, order.balance_applied, order.card_charged) == (
        200,
        800,
        800,
        0,
    )
    assert PromotionRedemption.objects.get().amount == 200
    assert PromotionAmount.objects.get().budget_used == 1000
    assert order.lines.get().unit_discounts == [200]


# --- promotional credit ---------------------------------------------------------------------


def _credit(user, amount, days):
    return wallet_credit_grant(
        user=user,
        amount=amount,
        currency="USD",
        expires_on=timezone.localdate() + datetime.timedelta(days=days),
        idempotency_key=f"grant:{user.pk}:{amount}:{days}",
        description="Promotional credit",
        reference=None,
    )


def test_credit_pays_first_soonest_expiring_then_gift_card_money(shopper, book):
    late = _credit(shopper, 300, days=30)
    soon = _credit(shopper, 200, days=5)
    fund(shopper, 1000)
    cart_fill(shopper, (book, 1))  # 10.00

    order = place(shopper, session_with(), agreed=True)

    assert (order.balance_applied, order.credit_applied, order.card_charged) == (1000, 500, 0)
    assert CreditLot.objects.get(pk=soon.pk).remaining == 0
    assert CreditLot.objects.get(pk=late.pk).remaining == 0
    assert balance(shopper) == 500  # the gift card money left


def test_a_failed_capture_returns_credit_to_its_lots_and_the_promotions_uses(
    shopper, book, django_capture_on_commit_callbacks
):
    promotion = promotion_with_code("SAVE1", kind="fixed", amount_off=100, total_limit=5)
    lot = _credit(shopper, 300, days=10)
    expires = CreditLot.objects.get(pk=lot.pk).expires_at
    cart_fill(shopper, (book, 1))  # 10.00 - 1.00 = 9.00: 3.00 credit, 6.00 by card

    with django_capture_on_commit_callbacks(execute=True):  # the capture runs on commit
        order = place(shopper, session_with("SAVE1"), card="4000 0000 0000 0341", agreed=True)

    order.refresh_from_db()
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.credit_applied == 300
    back = CreditLot.objects.get(pk=lot.pk)
    assert (back.remaining, back.expires_at) == (300, expires)  # credit, with its old expiry
    assert balance(shopper) == 300
    assert Promotion.objects.get(pk=promotion.pk).uses_count == 0
    assert PromotionRedemption.objects.get().released_at is not None
    # And the shopper can place it again with the code (the use came back).
    again = place(shopper, session_with("SAVE1"), agreed=True, card=APPROVED)
    assert again.discount == 100


def test_a_promotion_that_expired_meanwhile_is_refused_changed(shopper, book, meanwhile):
    """The summary was priced on the promotion's last day; the order is placed after midnight
    in the region (the fresh quote inside the transaction judges the window again)."""
    late = promotion_with_code("LASTDAY", percent=10)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    yesterday = timezone.localdate() - datetime.timedelta(days=2)
    meanwhile(lambda: Promotion.objects.filter(pk=late.pk).update(ends_on=yesterday), at="quote")
    _refused_changed(shopper, session_with("LASTDAY"), agreed=True)


def test_a_replayed_order_form_claims_its_promotion_once(shopper, book):
    save = promotion_with_code("SAVE1", kind="fixed", amount_off=100, total_limit=2)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    key = new_key()
    first = place(shopper, session_with("SAVE1"), key=key, agreed=True)
    again = order_place(user=shopper, session=session_with("SAVE1"), idempotency_key=key)
    assert again.pk == first.pk
    assert PromotionRedemption.objects.count() == 1
    assert Promotion.objects.get(pk=save.pk).uses_count == 1


def test_an_order_in_yen_stores_whole_yen_parts(db):
    """JPY has no minor unit: 10% off three 1,333 yen units is 400 yen, 134 + 133 + 133."""
    user = UserFactory(region_id="JP")
    item = ProductFactory(prices={"JP": 1333})
    promotion_with_code("TENJP", percent=10)
    cart_fill(user, (item, 3))
    fund(user, 10_000)
    order = place(user, session_with("TENJP"), agreed=True)
    line = order.lines.get()
    assert (order.currency, order.discount) == ("JPY", 400)
    assert line.unit_discounts == [134, 133, 133]
    assert order.balance_applied == 3999 - 400


def test_an_order_keeps_a_single_use_code_only_as_its_last_four_symbols(shopper, book, client):
    unique_code_promotion(codes=["SECRETCODE7QX"], percent=10, name="Ten off")
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    order = place(shopper, session_with("SECRETCODE7QX"))
    assert order.discount == 100
    stored = str(Order.objects.filter(pk=order.pk).values("promotions").get())
    assert "SECRETCODE7QX" not in stored
    assert "…E7QX" in stored
    client.force_login(shopper)
    page = client.get(f"/orders/{order.number}/").content.decode()
    assert "SECRETCODE7QX" not in page


# --- a code of the session that does not apply ----------------------------------------------


def test_without_figures_a_refused_code_of_the_session_refuses_the_order_and_charges_nothing(
    shopper, book, gateway
):
    """A service call saw no summary: the code it carries does not apply (below its
    minimum), so nobody agreed to pay without it."""
    promotion_with_code("BIG20", percent=20, minimum_subtotal=5000)
    cart_fill(shopper, (book, 1))
    session = session_with("BIG20")
    assert checkout_quote_get(user=shopper, session=session).refusals

    refused = _refused_changed(shopper, session, card=APPROVED)

    assert "A promotion of your order no longer applies" in str(refused)
    assert "Nothing was charged" in str(refused)
    assert gateway._authorizations == {}  # not even a hold


def test_with_figures_a_refused_code_beside_the_box_is_placed_without_it(shopper, book):
    """The page: the shopper saw the code's refusal and agreed to the total without it."""
    promotion_with_code("BIG20", percent=20, minimum_subtotal=5000)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)

    order = place(shopper, session_with("BIG20"), agreed=True)

    assert (order.discount, order.total, order.balance_applied) == (0, 1000, 1000)
    assert not PromotionRedemption.objects.exists()


@pytest.mark.parametrize("agreed", [True, False])
@pytest.mark.parametrize("at", ["quote", "claim"])
def test_a_promotion_gone_meanwhile_says_a_promotion_no_longer_applies(
    shopper, book, meanwhile, at, agreed
):
    limited = promotion_with_code("LIMITED1", percent=15, total_limit=1)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    meanwhile(lambda: Promotion.objects.filter(pk=limited.pk).update(uses_count=1), at=at)

    with pytest.raises(CheckoutChanged) as refused:
        place(shopper, session_with("LIMITED1"), agreed=agreed)

    message = str(refused.value)
    assert message.startswith("A promotion of your order no longer applies")
    assert "Nothing was charged" in message
    assert "Your cart or balance changed" not in message
    assert not Order.objects.exists()
    assert balance(shopper) == 2000


@pytest.mark.parametrize("at", ["quote", "claim"])
def test_a_budget_trimmed_meanwhile_says_a_promotion_no_longer_applies(
    shopper, book, meanwhile, at
):
    automatic_promotion(kind="fixed", amount_off=500, budget=1000, budget_used=700)
    cart_fill(shopper, (book, 1))
    fund(shopper, 2000)
    meanwhile(lambda: PromotionAmount.objects.update(budget_used=800), at=at)

    with pytest.raises(CheckoutChanged) as refused:
        place(shopper, session_with(), agreed=True)

    assert str(refused.value).startswith("A promotion of your order no longer applies")
    assert "Nothing was charged" in str(refused.value)
