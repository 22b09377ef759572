"""Race tests for buying gift cards, on PostgreSQL with real threads (released together by a
barrier; SQLite ignores `select_for_update`, so these FAIL there, never skip).

    (a) 20 tabs adding a gift card to one cart at once, limit 5  → exactly 5 in the cart
    (b) one checkout form posted from 20 threads                  → one order, its 2 gift
                                                                     cards once, one capture

Run: `scripts/test-services.sh .venv/bin/pytest tests/checkout/test_giftcard_buy_races.py -q`.
"""

from collections import Counter

import pytest

from checkout import payments
from checkout.exceptions import CheckoutError
from checkout.models import CartGiftCard, Order, OrderGiftCard, OrderLine, Payment
from checkout.payments import TestGateway
from checkout.services import order_place
from checkout.services.cart import cart_giftcard_add
from tests.accounts.factories import UserFactory
from tests.checkout.giftcard_buying import giftcard_cart_add, giftcard_fields, giftcard_product
from tests.checkout.shopping import APPROVED, new_key
from tests.wallet.test_races import run_together
from wallet.reconcile import ledger_reconcile

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def gateway(monkeypatch) -> TestGateway:
    fresh = TestGateway()
    monkeypatch.setattr(payments, "_provider", fresh)
    return fresh


def test_twenty_tabs_adding_at_once_never_pass_the_cart_limit(settings):
    settings.GIFTCARD_MAX_PER_CART = 5
    giftcard_product()
    shopper = UserFactory()  # no cart row yet: the first adds make it, concurrently

    outcomes = run_together(
        [
            lambda n=n: cart_giftcard_add(user=shopper, **giftcard_fields(amount=500 + n))
            for n in range(THREADS)
        ]
    )

    errors = Counter(
        type(o.error).__name__ if not isinstance(o.error, CheckoutError) else o.error.reason
        for o in outcomes
        if o.error is not None
    )
    assert errors == {"gift_card_limit": THREADS - 5}
    assert CartGiftCard.objects.filter(cart__user=shopper).count() == 5


def test_one_checkout_form_posted_from_twenty_threads_buys_its_gift_cards_once(gateway):
    giftcard_product()
    shopper = UserFactory()
    giftcard_cart_add(shopper, amount=5000)
    giftcard_cart_add(shopper, amount=2500, delivery="print")
    key = new_key()

    outcomes = run_together(
        [
            lambda: order_place(user=shopper, session={}, idempotency_key=key, card_number=APPROVED)
            for _ in range(THREADS)
        ]
    )

    assert [o.error for o in outcomes] == [None] * THREADS
    order = Order.objects.get(user=shopper)
    assert {o.value.pk for o in outcomes} == {order.pk}
    assert order.card_charged == 7500
    assert OrderLine.objects.filter(order=order).count() == 2
    assert sorted(OrderGiftCard.objects.filter(order=order).values_list("amount", flat=True)) == [
        2500,
        5000,
    ]
    assert not CartGiftCard.objects.exists()
    payment = Payment.objects.get(order=order)
    assert (payment.amount, payment.status) == (7500, "captured")
    assert gateway.captured == {payment.reference}
    assert ledger_reconcile().clean
