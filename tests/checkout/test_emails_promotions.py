"""The order e-mails add up (docs/interface.md §10, §11): each line's amount, Subtotal,
Shipping, each promotion's discount, Total, and how it was paid (promotional credit, gift card
money, card); the refund e-mail's parts add up to the refund."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from catalog.models import Product
from checkout.models import Order
from checkout.selectors import SESSION_PROMO_CODES, SESSION_USE_BALANCE
from checkout.services import order_place, order_refund
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, cart_fill, fund, new_key
from tests.promotions.factories import automatic_promotion, promotion_with_code
from tests.wallet.credit_factories import grant

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r"^(.+?): (\N{MINUS SIGN}|-)?\$([\d,]+\.\d\d)", re.MULTILINE)


def _figures(body: str) -> dict[str, int]:
    """`Label: $1.23` lines of a text e-mail, in cents (a minus sign: negative)."""
    found = {}
    for label, minus, amount in FIGURE.findall(body):
        cents = int(amount.replace(",", "").replace(".", ""))
        found[label.strip()] = -cents if minus else cents
    return found


def _placed(user, session, card=APPROVED, capture=None) -> Order:
    with capture(execute=True):
        order = order_place(user=user, session=session, idempotency_key=new_key(), card_number=card)
    order.refresh_from_db()
    return order


def test_the_order_placed_mail_adds_up_with_promotions_credit_money_and_card(
    django_capture_on_commit_callbacks,
):
    user = UserFactory(region_id="US")
    lamp = ProductFactory(name="Desk Lamp", kind=Product.Kind.PHYSICAL, prices={"US": 2000})
    book = ProductFactory(name="A Book", prices={"US": 1500})
    promotion_with_code("WELCOME10", percent=10, name="WELCOME10: 10% off your order")
    automatic_promotion(
        kind="percent", target="items", percent=20, products=[book], name="Books 20% off"
    )
    fund(user, 1000)
    grant(user, 700, days=10)
    cart_fill(user, (lamp, 1), (book, 2))
    session = {SESSION_PROMO_CODES: ["WELCOME10"], SESSION_USE_BALANCE: True}

    order = _placed(user, session, capture=django_capture_on_commit_callbacks)

    (message,) = mail.outbox
    figures = _figures(message.body)
    assert figures["1 x Desk Lamp"] == 2000
    assert figures["2 x A Book (digital: in your library now)"] == 3000
    assert figures["Subtotal"] == order.subtotal == 5000
    assert figures["Shipping (Standard)"] == order.shipping
    discounts = {k: v for k, v in figures.items() if v < 0}
    assert len(discounts) == 2
    # Each promotion by the label the checkout showed it under.
    assert sorted(label.split(":")[0] for label in discounts) == ["Books 20% off", "WELCOME10"]
    assert sum(discounts.values()) == -order.discount
    assert order.discount > 0
    assert (
        figures["Subtotal"] + figures["Shipping (Standard)"] + sum(discounts.values())
        == (figures["Total"])
    )
    assert figures["Total"] == order.total
    assert figures["Paid with promotional credit"] == 700
    assert figures["Paid with gift card money"] == 1000
    assert figures["Charged to your card"] == order.card_charged
    assert (
        figures["Paid with promotional credit"]
        + figures["Paid with gift card money"]
        + figures["Charged to your card"]
        == figures["Total"]
    )
    html, _ = message.alternatives[0]
    assert '<td class="amount"></td>' not in html
    assert "WELCOME10: 10% off" in html
    assert "Paid with promotional credit" in html


def test_an_order_without_promotions_or_credit_keeps_the_short_mail(
    django_capture_on_commit_callbacks,
):
    user = UserFactory(region_id="US")
    book = ProductFactory(name="A Book", prices={"US": 1500})
    fund(user, 500)
    cart_fill(user, (book, 1))

    order = _placed(user, {SESSION_USE_BALANCE: True}, capture=django_capture_on_commit_callbacks)

    figures = _figures(mail.outbox[0].body)
    assert figures == {
        "1 x A Book (digital: in your library now)": 1500,
        "Subtotal": 1500,
        "Total": 1500,
        "Paid from your balance": 500,
        "Charged to your card": 1000,
    }
    assert order.total == 1500


def test_the_refund_mail_parts_add_up_to_the_refund(django_capture_on_commit_callbacks):
    user = UserFactory(region_id="US")
    book = ProductFactory(name="A Book", prices={"US": 1500})
    grant(user, 400, days=10)
    fund(user, 200)
    cart_fill(user, (book, 1))
    order = _placed(user, {SESSION_USE_BALANCE: True}, capture=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))

    with django_capture_on_commit_callbacks(execute=True):
        order_refund(
            order_id=order.pk,
            from_balance=600,
            from_card=300,
            card_to_balance=False,
            reason="damaged",
            idempotency_key=new_key(),
            by=staff,
        )

    (message,) = mail.outbox
    assert "We refunded $9.00 of your order" in message.body
    figures = _figures(message.body)
    assert figures["Back to your balance"] == 600
    assert figures["Back to your card"] == 300
    assert "promotional credit goes back with the date it expires" in message.body
