"""An order of gift cards says `delivered` only once every card in it is handed over (e-mail
sent, PDF downloaded) or refunded (docs/giftcards.md): a card going out next month does not
make the order "delivered" today."""

import datetime

import pytest
from django.test import Client

from catalog.regions import region_today
from checkout.models import Order
from checkout.services.giftcard_orders import order_delivered_when_gift_cards_done
from config.jobs import jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.gift_orders import gift_order, gifts_of
from tests.wallet.pages import hook

pytestmark = pytest.mark.django_db


def _status(order) -> str:
    order.refresh_from_db()
    return order.status


def test_the_order_is_delivered_when_its_last_card_is_handed_over():
    buyer = UserFactory(region_id="US")
    order = gift_order(
        buyer,
        {"amount": 2500, "recipient_email": "ann@example.com"},
        {"amount": 2500, "delivery": "print", "recipient_email": ""},
    )
    assert _status(order) == "placed"

    jobs_run_pending()  # the e-mail goes out; the printable card is still to download
    assert [g.status for g in gifts_of(order)] == ["sent", "ready"]
    assert _status(order) == "placed"

    client = Client()
    client.force_login(buyer)
    printed = gifts_of(order)[1]
    response = client.post(f"/orders/{order.number}/gift-cards/{printed.pk}/print/")
    assert response.status_code == 200
    assert _status(order) == "delivered"
    assert order.delivered_at is not None
    page = client.get(f"/orders/{order.number}/")
    assert hook(page, "order-status").attrs["data-status"] == "delivered"


def test_a_card_for_a_later_day_keeps_the_order_placed():
    buyer = UserFactory(region_id="US")
    later = region_today(buyer.region) + datetime.timedelta(days=30)
    order = gift_order(
        buyer, {"amount": 2500, "recipient_email": "ann@example.com", "send_on": later}
    )

    jobs_run_pending()

    assert [g.status for g in gifts_of(order)] == ["scheduled"]
    assert _status(order) == "placed"
    assert not order_delivered_when_gift_cards_done(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).delivered_at is None
