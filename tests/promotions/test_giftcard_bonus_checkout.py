"""The gift card bonus offer through checkout (docs/promotions.md, "Gift card bonus"): the
quote announces it, the order records it (never a discount), the capture grants its credit
once, a failed payment grants nothing; 20 grants at once grant one lot (PostgreSQL). Everything
through the real services: the buy service, `order_place`, the capture after commit. The
refunds that take it back: test_giftcard_bonus_refund.py."""

import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.template.loader import render_to_string
from django.test import TestCase

from catalog.models import Product
from checkout.models import Order, Payment
from checkout.payments import TestGateway
from checkout.selectors import SESSION_USE_BALANCE, checkout_quote_get
from checkout.services import order_place, paid
from checkout.services.cart import cart_giftcard_add
from checkout.services.order_promotions import order_bonus_grant
from promotions.demo import demo_promotions_load
from promotions.models import GiftCardBonus, Promotion, PromotionRedemption
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import address_give, cart_fill, new_key
from tests.promotions.factories import automatic_promotion
from tests.wallet.test_races import run_together
from wallet.models import CreditLot
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get


@pytest.fixture
def offer(db):
    """The demo offer's terms: 50.00 of gift cards earn 10.00 credit for 30 days."""
    ProductFactory(slug="gift-card-bonus-test", name="Gift card", kind=Product.Kind.GIFT_CARD)
    return automatic_promotion(
        slug="giftcard-bonus",
        name="Gift card bonus",
        kind=Promotion.Kind.GIFTCARD_BONUS,
        percent=None,
        credit_days=30,
        amounts={"USD": {"amount_off": 1000, "minimum_subtotal": 5000}},
    )


def gift_cards(user, *amounts):
    for amount in amounts:
        cart_giftcard_add(
            user=user,
            amount=amount,
            delivery="email",
            recipient_name="Ann",
            recipient_email="ann@example.com",
        )


def place(user, card=TestGateway.APPROVED) -> Order:
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = order_place(
            user=user,
            session={SESSION_USE_BALANCE: True},
            idempotency_key=new_key(),
            card_number=card,
        )
    order.refresh_from_db()
    return order


def bonus_entry(order):
    return next(e for e in order.promotions if e["kind"] == "giftcard_bonus")


@pytest.mark.django_db
def test_the_quote_announces_the_credit_and_discounts_nothing(user, offer):
    gift_cards(user, 2500, 2500)
    quote = checkout_quote_get(user=user, session={})
    (bonus,) = quote.evaluation.bonuses
    assert (bonus.promotion_id, bonus.credit, bonus.minimum) == (offer.pk, 1000, 5000)
    assert (quote.discount, quote.applied) == (0, ())


@pytest.mark.django_db
def test_paid_order_records_the_bonus_and_grants_the_credit_once(user, offer):
    gift_cards(user, 3000, 3000)
    order = place(user)

    assert (order.discount, order.subtotal, order.card_charged) == (0, 6000, 6000)
    entry = bonus_entry(order)
    assert (entry["amount"], entry["credit"], entry["minimum"]) == (0, 1000, 5000)
    assert entry["units"] == {}
    redemption = PromotionRedemption.objects.get(promotion=offer)
    assert (redemption.order_number, redemption.amount) == (order.number, 1000)
    bonus = GiftCardBonus.objects.get()
    assert (bonus.order_number, bonus.status, bonus.lot.amount) == (order.number, "granted", 1000)
    assert wallet_balance_get(user=user).credit == 1000
    assert any("$10.00" in m.subject and m.to == [user.email] for m in mail.outbox)
    assert ledger_reconcile().clean

    # The hook again (the sweep, a retry): one lot, one e-mail.
    sent = len(mail.outbox)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_bonus_grant(order_id=order.pk)
    assert CreditLot.objects.count() == 1
    assert len(mail.outbox) == sent


@pytest.mark.django_db
def test_the_demo_offer_in_yen_7500_of_gift_cards_earn_1500():
    ProductFactory(slug="gift-card-bonus-test", name="Gift card", kind=Product.Kind.GIFT_CARD)
    demo_promotions_load()
    buyer = UserFactory(region_id="JP")
    gift_cards(buyer, 5000, 3000)
    quote = checkout_quote_get(user=buyer, session={})
    (bonus,) = quote.evaluation.bonuses
    assert (bonus.slug, bonus.credit, bonus.minimum) == ("giftcard-bonus", 1500, 7500)
    assert bonus.label == "Gift card bonus: ￥1,500 promotional credit with ￥7,500 of gift cards"
    place(buyer)
    lot = GiftCardBonus.objects.get(order_number__startswith="CP-").lot
    assert (lot.amount, lot.currency) == (1500, "JPY")
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_below_the_minimum_or_with_other_lines_making_it_up_no_bonus(user, offer):
    lamp = ProductFactory(name="Desk lamp", prices={"US": 20000})
    address_give(user)
    cart_fill(user, (lamp, 1))
    gift_cards(user, 4900)
    order = place(user)
    assert all(e["kind"] != "giftcard_bonus" for e in order.promotions)
    assert not GiftCardBonus.objects.exists()
    assert wallet_balance_get(user=user).credit == 0


@pytest.mark.django_db
def test_the_checkout_partial_shows_the_bonus_beside_not_inside_the_discount(user, offer):
    gift_cards(user, 5000)
    quote = checkout_quote_get(user=user, session={})
    html = render_to_string(
        "promotions/_giftcard_bonus.html",
        {"bonuses": quote.evaluation.bonuses, "currency": quote.currency},
    )
    assert 'data-testid="bonus-offer"' in html
    assert 'data-credit-minor="1000"' in html
    assert "You will receive $10.00 in promotional credit once paid" in html
    assert render_to_string("promotions/_giftcard_bonus.html", {"bonuses": ()}).strip() == ""


@pytest.mark.django_db
def test_its_limits_hold_once_per_shopper_and_in_total(user, other_user, offer):
    Promotion.objects.filter(pk=offer.pk).update(per_shopper_limit=1, total_limit=2)
    gift_cards(user, 5000)
    place(user)
    gift_cards(user, 5000)
    second = place(user)  # the shopper's one use is spent: no bonus, the order goes on
    assert all(e["kind"] != "giftcard_bonus" for e in second.promotions)
    assert checkout_quote_get(user=user, session={}).evaluation is None  # cart emptied
    gift_cards(other_user, 5000)
    place(other_user)
    third = UserFactory()
    gift_cards(third, 5000)
    assert checkout_quote_get(user=third, session={}).evaluation.bonuses == ()  # none left
    assert GiftCardBonus.objects.filter(status="granted").count() == 2
    assert Promotion.objects.get(pk=offer.pk).uses_count == 2


@pytest.mark.django_db
def test_a_grant_the_hook_missed_is_made_by_the_periodic_sweep_in_the_worker(
    user, offer, monkeypatch, settings
):
    settings.PERIODIC_TASKS = [("checkout.bonus_tasks.giftcard_bonuses_due", 300)]

    def down(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(paid, "order_bonus_grant", down)  # logged by order_paid, not raised
    gift_cards(user, 5000)
    order = place(user)
    assert not CreditLot.objects.exists()
    monkeypatch.undo()

    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("run_schedule", "--once", stdout=out, stderr=out)
        call_command("run_schedule", "--once", stdout=out, stderr=out)  # again: nothing more

    assert "ran the queue: 1 succeeded, 0 failed" in out.getvalue()
    bonus = GiftCardBonus.objects.get()
    assert (bonus.order_number, bonus.status, bonus.lot.amount) == (order.number, "granted", 1000)
    assert CreditLot.objects.count() == 1
    assert ledger_reconcile().clean


@pytest.mark.django_db
def test_a_failed_capture_grants_nothing_and_gives_the_use_back(user, offer):
    gift_cards(user, 5000)
    order = place(user, card=TestGateway.CAPTURE_FAILS)
    assert order.status == Order.Status.PAYMENT_FAILED
    assert PromotionRedemption.objects.get().released_at is not None
    order_bonus_grant(order_id=order.pk)
    assert not CreditLot.objects.exists()
    assert ledger_reconcile().clean


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_race_twenty_grants_of_one_paid_order_grant_one_lot(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.fail("race tests need PostgreSQL", pytrace=False)
    ProductFactory(slug="gift-card-bonus-test", name="Gift card", kind=Product.Kind.GIFT_CARD)
    automatic_promotion(
        slug="giftcard-bonus",
        kind=Promotion.Kind.GIFTCARD_BONUS,
        percent=None,
        credit_days=30,
        amounts={"USD": {"amount_off": 1000, "minimum_subtotal": 5000}},
    )
    buyer = UserFactory()
    gift_cards(buyer, 5000)
    # Paid, the hook's grant held back: the 20 below are the first to grant it.
    monkeypatch.setattr(paid, "order_bonus_grant", lambda **kwargs: None)
    order = order_place(
        user=buyer, session={}, idempotency_key=new_key(), card_number=TestGateway.APPROVED
    )
    assert Payment.objects.get(order=order).status == Payment.Status.CAPTURED
    assert not CreditLot.objects.exists()

    outcomes = run_together([lambda: order_bonus_grant(order_id=order.pk)] * 20)

    assert [o.error for o in outcomes if o.error is not None] == []
    assert CreditLot.objects.filter(user=buyer).count() == 1
    assert GiftCardBonus.objects.get().status == "granted"
    assert wallet_balance_get(user=buyer).credit == 1000
    assert ledger_reconcile().clean
