"""What coins paid is told wherever the order's figures are (docs/points.md): the order page's
summary, the order e-mail and the refund e-mail, so the parts add up to the total."""

import pytest
from django.core import mail
from django.test import Client

from catalog.models import Product
from checkout.services import order_refund
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, cart_fill, new_key
from tests.checkout.test_coins_checkout import coins_give
from tests.wallet.pages import hook
from tests.wallet.staff import superuser

pytestmark = pytest.mark.django_db


def _order_paid_with_coins(django_capture_on_commit_callbacks):
    from checkout.services import order_place

    user = UserFactory(region_id="US")
    app = ProductFactory(name="Star Game", kind=Product.Kind.DIGITAL, prices={"US": 1299})
    lamp = ProductFactory(name="Desk Lamp", kind=Product.Kind.PHYSICAL, prices={"US": 2999})
    coins_give(user, 1_000)
    cart_fill(user, (app, 1), (lamp, 1))
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(user=user, session={}, idempotency_key=new_key(), card_number=APPROVED)
    order.refresh_from_db()
    return user, order


def test_the_order_page_and_its_email_show_what_coins_paid(django_capture_on_commit_callbacks):
    user, order = _order_paid_with_coins(django_capture_on_commit_callbacks)
    assert order.coins_applied == 1_000
    client = Client()
    client.force_login(user)
    page = client.get(f"/orders/{order.number}/")
    coins = hook(page, "order-coins-applied")
    assert coins.attrs["data-coins"] == "1000"
    assert coins.attrs["data-amount-minor"] == "1000"
    assert coins.text == "\u22121,000 coins ($10.00)"
    placed = next(m for m in mail.outbox if order.number in m.subject)
    assert "Paid with coins (digital items): 1,000 coins ($10.00)" in placed.body
    assert "1,000 coins ($10.00)" in placed.alternatives[0][0]


def test_a_refund_of_coins_says_so_in_its_email_and_on_the_order_page(
    django_capture_on_commit_callbacks,
):
    user, order = _order_paid_with_coins(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(
            order_id=order.pk,
            from_balance=0,
            from_card=0,
            from_coins=400,
            card_to_balance=False,
            reason="Game did not start",
            idempotency_key=f"admin-refund:{new_key()}",
            by=superuser(),
        )
    assert refund.amount == 400
    sent = next(m for m in mail.outbox if "refund" in m.subject.lower())
    assert "We refunded $4.00" in sent.body
    assert "Back as coins: 400 coins ($4.00)" in sent.body
    client = Client()
    client.force_login(user)
    row = hook(client.get(f"/orders/{order.number}/"), "order-refund")
    assert row.attrs["data-amount-minor"] == "400"
    assert "($4.00 back as 400 coins)" in row.text
