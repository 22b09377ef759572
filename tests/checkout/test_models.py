"""Database constraints: the last guard behind the services' rules (STYLE.md, "Transactions")."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from checkout.models import CartLine, Order, Refund
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, cart_fill, fund, order_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(user, django_capture_on_commit_callbacks):
    """$59.98: $20.00 from the balance, $39.98 by card."""
    fund(user, 2000)
    with django_capture_on_commit_callbacks(execute=True):
        return order_make(user, (ProductFactory(prices={"US": 2999}), 2), card=APPROVED)


def _refused(**changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.update(**changes)


def test_a_balance_refund_above_what_the_balance_paid_is_refused(order):
    _refused(balance_refunded=F("balance_applied") + 1)
    _refused(balance_refunded=-1)

    Order.objects.update(balance_refunded=F("balance_applied"))  # all of it is fine
    order.refresh_from_db()
    assert order.balance_refunded == 2000


def test_a_card_refund_above_what_the_card_paid_is_refused(order):
    _refused(card_refunded=F("card_charged") + 1)
    _refused(card_refunded=-1)

    order.refresh_from_db()
    assert order.card_refunded == 0


def test_an_order_is_always_paid_in_full(order):
    _refused(card_charged=F("card_charged") - 1)
    _refused(subtotal=F("subtotal") + 1)
    _refused(discount=-1, balance_applied=F("balance_applied") + 1)
    _refused(balance_applied=-10, card_charged=F("card_charged") + 10)


def test_the_idempotency_key_and_number_are_unique(order):
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            number="CP-OTHER",
            user=order.user,
            region=order.region,
            currency="USD",
            idempotency_key=order.idempotency_key,
            subtotal=0,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            number=order.number,
            user=order.user,
            region=order.region,
            currency="USD",
            idempotency_key="another",
            subtotal=0,
        )


@pytest.mark.parametrize(("from_balance", "from_card"), [(0, 0), (-1, 5), (5, -1)])
def test_a_refund_row_moves_a_positive_amount(order, from_balance, from_card):
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(
            order=order,
            from_balance=from_balance,
            from_card=from_card,
            reason="x",
            created_by=order.user,
            idempotency_key="k",
        )


@pytest.mark.parametrize("quantity", [0, 100])
def test_a_cart_line_holds_1_to_99(user, quantity):
    product = ProductFactory()
    cart_fill(user, (product, 1))

    with pytest.raises(IntegrityError), transaction.atomic():
        CartLine.objects.update(quantity=quantity)


def test_one_line_per_product_in_a_cart(user):
    product = ProductFactory()
    cart_fill(user, (product, 1))
    line = CartLine.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        CartLine.objects.create(cart=line.cart, product=product, quantity=1)


def test_str_and_totals(order):
    assert str(order) == order.number
    assert order.total == 5998
    assert order.refunded == 0
    assert str(order.lines.get()) == f"2 x {order.lines.get().product_name}"
    assert str(order.payment).startswith("test test_auth_")
    assert str(CartLine(product_id=7, quantity=3)) == "3 x 7"
