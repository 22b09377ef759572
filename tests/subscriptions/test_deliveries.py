"""Placing a delivery (subscriptions/services/deliveries.py through `order_place(basket=)`):
the Subscribe & Save price, promotions and shipping as on any order, the balance first (credit,
then gift card money) and the saved card the rest, once per period; a failed payment retried
then paused with an e-mail each time; a product no longer sold pauses; the cart untouched.

Deliveries run through `subscription_deliver` for a given day; `on_commit` (the capture, the
e-mails) runs inside `django_capture_on_commit_callbacks(execute=True)`, except for the capture
that fails, which must run inside `order_place` as in production (`transaction=True`)."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from catalog.models import Price, Product
from checkout.models import CartLine, Order, Payment, SavedCard
from checkout.payments import TestGateway
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.services import (
    subscription_deliver,
    subscription_pause,
    subscription_resume,
)
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, DECLINED, balance, cart_fill, fund
from tests.promotions.factories import automatic_promotion
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.subscriptions.services_state import at, clock_set, everything, gateway  # noqa: F401
from wallet.services import wallet_credit_grant

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = D(2027, 3, 10)
Status = Subscription.Status


@pytest.fixture
def shopper(db):
    return UserFactory(region_id="US")


def _deliver(sub, today=DAY, capture=None):
    if capture is None:
        return subscription_deliver(subscription_id=sub.pk, today=today)
    with capture(execute=True):
        return subscription_deliver(subscription_id=sub.pk, today=today)


def _mails(word: str) -> list:
    return [m for m in mail.outbox if word.lower() in m.subject.lower()]


def test_credit_then_gift_card_money_pay_first_and_the_card_the_rest_once(
    shopper, django_capture_on_commit_callbacks
):
    sub = subscription_give(shopper, subscribable_product(price=1899), quantity=2, due=DAY)
    wallet_credit_grant(
        user=shopper,
        amount=300,
        currency="USD",
        expires_on=timezone.localdate() + datetime.timedelta(days=30),
        idempotency_key="grant:s&s",
        description="Promotional credit",
        reference="test",
    )
    fund(shopper, 1000)
    cart_fill(shopper, (ProductFactory(prices={"US": 500}), 2))
    cart = list(CartLine.objects.values_list("pk", "product", "quantity"))

    first = _deliver(sub, capture=django_capture_on_commit_callbacks)
    again = _deliver(sub, capture=django_capture_on_commit_callbacks)

    assert (first.status, again.status) == ("placed", "not_due")
    order = Order.objects.get(user=shopper)
    # 2 x $18.04 (5% off $18.99) + $5.99 standard shipping (free from $50).
    assert (order.subtotal, order.shipping, order.discount) == (3608, 599, 0)
    assert (order.balance_applied, order.credit_applied, order.card_charged) == (1300, 300, 2907)
    assert order.status == Order.Status.PLACED
    assert Payment.objects.get(order=order).amount == 2907
    assert order.idempotency_key == f"subscription:{sub.pk}:0:0"
    assert balance(shopper) == 0
    assert list(CartLine.objects.values_list("pk", "product", "quantity")) == cart
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.index, period.status, period.order) == (0, "placed", order)
    sub.refresh_from_db()
    assert (sub.period_index, sub.next_date, sub.last_unit_price) == (1, D(2027, 4, 10), 1804)


def test_ten_percent_from_five_subscriptions_promotions_and_free_shipping(
    shopper, django_capture_on_commit_callbacks
):
    automatic_promotion(percent=10)  # 10% off any order
    subs = [subscription_give(shopper, due=DAY) for _ in range(4)]
    coffee = subscription_give(shopper, subscribable_product(price=1899), quantity=3, due=DAY)
    fund(shopper, 10000)

    _deliver(coffee, capture=django_capture_on_commit_callbacks)

    order = Order.objects.get(user=shopper)
    line = order.lines.get()
    assert (line.list_price, line.unit_price, line.quantity) == (1899, 1709, 3)
    # $51.27 reaches the free shipping threshold; the automatic 10% applies as on any order.
    assert (order.subtotal, order.shipping, order.discount) == (5127, 0, 513)
    assert (order.balance_applied, order.card_charged) == (5127 - 513, 0)
    assert len(subs) == 4


def test_a_balance_that_covers_it_all_needs_no_card(shopper, django_capture_on_commit_callbacks):
    sub = subscription_give(shopper, subscribable_product(price=1000), card="", due=DAY)
    fund(shopper, 5000)
    outcome = _deliver(sub, capture=django_capture_on_commit_callbacks)
    assert outcome.status == "placed"
    assert (outcome.order.balance_applied, outcome.order.card_charged) == (1549, 0)
    assert not Payment.objects.exists()
    assert balance(shopper) == 5000 - 1549


def test_a_declined_card_is_retried_on_each_run_then_the_fourth_failure_pauses(
    shopper, django_capture_on_commit_callbacks
):
    sub = subscription_give(shopper, card=DECLINED, due=DAY)
    fund(shopper, 500)  # covers part: nothing of it is taken while the card declines
    before = everything()[0]
    outcomes = [
        _deliver(sub, DAY + datetime.timedelta(days=n), django_capture_on_commit_callbacks).status
        for n in range(5)
    ]
    assert outcomes == ["failed", "failed", "failed", "paused", "not_due"]
    assert everything()[0] == before  # no order, no debit, no payment
    assert balance(shopper) == 500
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.index, period.status, period.attempts) == (0, "failed", 4)
    assert "declined" in period.message
    sub.refresh_from_db()
    assert (sub.status, sub.pause_reason, sub.next_date) == (Status.PAUSED, "payment_failed", DAY)
    subjects = [m.subject.lower() for m in mail.outbox]
    assert len(subjects) == 4
    assert ["paused" in s for s in subjects] == [False, False, False, True]
    assert all(DECLINED not in m.body for m in mail.outbox)


def test_no_card_and_too_little_balance_fails_and_says_why(
    shopper, django_capture_on_commit_callbacks
):
    sub = subscription_give(shopper, card="", due=DAY)
    fund(shopper, 100)
    before = everything()[0]
    assert _deliver(sub, capture=django_capture_on_commit_callbacks).status == "failed"
    assert everything()[0] == before
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.status, period.attempts) == ("failed", 1)
    assert "no card" in period.message
    assert len(_mails("try again")) == 1


@pytest.mark.parametrize("gone", ["withdrawn", "not_priced", "not_subscribable"])
def test_a_product_no_longer_sold_pauses_with_an_email_and_no_order(
    shopper, gone, django_capture_on_commit_callbacks
):
    sub = subscription_give(shopper, due=DAY)
    fund(shopper, 5000)
    if gone == "withdrawn":
        Product.objects.filter(pk=sub.product_id).update(is_active=False)
    elif gone == "not_priced":
        Price.objects.filter(product_id=sub.product_id, region_id="US").delete()
    else:
        Product.objects.filter(pk=sub.product_id).update(subscribable=False)
    before = everything()[0]

    outcome = _deliver(sub, capture=django_capture_on_commit_callbacks)

    assert outcome.status == "paused"
    assert everything()[0] == before
    sub.refresh_from_db()
    assert (sub.status, sub.pause_reason) == (Status.PAUSED, "unavailable")
    assert SubscriptionPeriod.objects.get(subscription=sub).status == "unavailable"
    assert len(_mails("paused")) == 1


def test_without_any_address_it_pauses_address(shopper, django_capture_on_commit_callbacks):
    sub = subscription_give(shopper, due=DAY)
    sub.address.delete()
    outcome = _deliver(sub, capture=django_capture_on_commit_callbacks)
    sub.refresh_from_db()
    assert (outcome.status, sub.pause_reason) == ("paused", "address")
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_capture_that_fails_reopens_the_period_and_a_retry_uses_a_new_key(monkeypatch):
    clock_set(monkeypatch, at(2027, 3, 10, 15))
    shopper = UserFactory(region_id="US")
    sub = subscription_give(shopper, card=TestGateway.CAPTURE_FAILS)
    fund(shopper, 500)
    cart_fill(shopper, (ProductFactory(prices={"US": 700}), 1))
    cart = list(CartLine.objects.values_list("pk", "product", "quantity"))

    outcome = _deliver(sub, DAY)

    assert outcome.status == "failed"
    failed = Order.objects.get()
    assert failed.status == Order.Status.PAYMENT_FAILED
    assert balance(shopper) == 500  # its balance part came back
    assert list(CartLine.objects.values_list("pk", "product", "quantity")) == cart
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.index, period.status, period.attempts) == (0, "failed", 1)
    sub.refresh_from_db()
    assert (sub.status, sub.period_index, sub.next_date, sub.failed_attempts) == (
        Status.ACTIVE,
        0,
        DAY,
        1,
    )
    assert len(_mails("try again")) == 1

    # The shopper pauses, saves a card that works and resumes the same day (attempts afresh):
    # the retry is a new order under a new key, not a replay of the failed one.
    subscription_pause(user=shopper, subscription_id=sub.pk)
    Subscription.objects.filter(pk=sub.pk).update(
        card=SavedCard.objects.create(
            user=shopper,
            provider="test",
            token=TestGateway().tokenize(card_number=APPROVED).token,
            card_last4="4242",
        )
    )
    subscription_resume(user=shopper, subscription_id=sub.pk)
    retried = _deliver(sub, DAY)

    assert retried.status == "placed"
    assert retried.order != failed
    assert retried.order.idempotency_key.startswith(f"subscription:{sub.pk}:0:")
    assert retried.order.idempotency_key != failed.idempotency_key
    assert retried.order.status == Order.Status.PLACED
    assert balance(shopper) == 0
    assert SubscriptionPeriod.objects.get(subscription=sub).order == retried.order
    assert list(CartLine.objects.values_list("pk", "product", "quantity")) == cart
