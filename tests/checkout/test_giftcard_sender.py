"""Who a bought gift card says it is from (docs/giftcards.md): the name the buyer gives on the
buy form (their own name by default), "A friend" when they leave it empty; never the buyer's
e-mail address, which the recipient is not told."""

import pytest
from django.core import mail
from django.test import Client

from config.jobs import jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.gift_orders import gift_order, gift_product

pytestmark = pytest.mark.django_db


def _delivery_mail():
    (message,) = [m for m in mail.outbox if "sent you a" in m.subject]
    return message


def test_the_card_is_from_the_name_the_buyer_gave():
    buyer = UserFactory(region_id="US", email="buyer@example.com")
    gift_order(buyer, {"amount": 2500, "recipient_email": "ann@example.com", "sender_name": "Sam"})

    jobs_run_pending()

    message = _delivery_mail()
    assert message.subject.startswith("[Coinpurse] Sam sent you a")
    html = message.alternatives[0][0]
    assert "buyer@example.com" not in message.body + html + message.subject


def test_a_card_without_a_name_is_from_a_friend_never_the_buyers_address():
    buyer = UserFactory(region_id="US", email="buyer@example.com", first_name="", last_name="")
    gift_order(buyer, {"amount": 2500, "recipient_email": "ann@example.com"})

    jobs_run_pending()

    message = _delivery_mail()
    assert "A friend sent you a" in message.subject
    assert "buyer@example.com" not in message.body + message.alternatives[0][0]


def test_the_buy_form_starts_with_the_buyers_own_name():
    gift_product()
    buyer = UserFactory(region_id="US", first_name="Sam", last_name="Lee")
    client = Client()
    client.force_login(buyer)

    page = client.get("/gift-cards/buy/")

    assert 'name="sender_name" value="Sam Lee"' in page.content.decode()
