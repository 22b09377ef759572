"""A new card for the shopper's deliveries: what a shopper does after a declined card
(`subscription_card_save`, POST /subscriptions/card/)."""

import datetime

import pytest
from django.test import Client

from checkout import payments
from checkout.exceptions import PaymentDeclined
from checkout.models import Order
from subscriptions.exceptions import InvalidChange
from subscriptions.models import Subscription
from subscriptions.services import (
    subscription_cancel,
    subscription_card_save,
    subscription_resume,
    subscriptions_run,
)
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import APPROVED, DECLINED
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.subscriptions.services_state import everything, gateway  # noqa: F401 (fixture)
from tests.wallet.pages import hook

pytestmark = pytest.mark.django_db


def _paused_by_a_declined_card(user):
    sub = subscription_give(user, card=DECLINED)
    for later in range(4):  # the first attempt and its three retries, a day apart
        subscriptions_run(date=sub.next_date + datetime.timedelta(days=later))
    sub.refresh_from_db()
    assert (sub.status, sub.pause_reason) == ("paused", "payment_failed")
    return sub


def test_a_new_card_pays_the_next_delivery_after_a_resume(django_capture_on_commit_callbacks):
    user = UserFactory(region_id="US")
    sub = _paused_by_a_declined_card(user)
    cancelled = subscription_give(user, subscribable_product(), card="")
    subscription_cancel(user=user, subscription_id=cancelled.pk)

    card = subscription_card_save(user=user, card_number="4242 4242 4242 4242")
    subscription_resume(user=user, subscription_id=sub.pk)
    with django_capture_on_commit_callbacks(execute=True):
        placed = subscriptions_run()

    assert placed.outcomes["placed"] == 1
    assert card.card_last4 == "4242"
    assert APPROVED not in card.token  # the provider's token, never the number
    sub.refresh_from_db()
    cancelled.refresh_from_db()
    assert sub.card_id == card.pk
    assert cancelled.card_id != card.pk  # a cancelled one is left as it was
    order = Order.objects.get(user=user)
    assert order.payment.card_last4 == "4242"


@pytest.mark.parametrize(("number", "error"), [("", InvalidChange), ("1234 5678", PaymentDeclined)])
def test_a_missing_or_invalid_number_writes_nothing(number, error):
    user = UserFactory(region_id="US")
    subscription_give(user, card=DECLINED)
    before = everything()
    with pytest.raises(error):
        subscription_card_save(user=user, card_number=number)
    assert everything() == before


def test_the_page_saves_it_and_says_so_and_refuses_bad_input_with_its_reason():
    user = UserFactory(region_id="US")
    sub = subscription_give(user, card=DECLINED)
    client = Client()
    client.force_login(user)

    refused = client.post("/subscriptions/card/", {"card_number": "1234"})
    assert refused.status_code == 200
    assert 'data-testid="form-error"' in refused.content.decode()
    assert Subscription.objects.get(pk=sub.pk).card.card_last4 == "0002"

    saved = client.post("/subscriptions/card/", {"card_number": APPROVED}, follow=True)
    page = saved.content.decode()
    assert "card ending 4242" in page
    assert APPROVED not in page
    assert Subscription.objects.get(pk=sub.pk).card.card_last4 == "4242"


def test_anonymous_get_and_csrf_are_refused():
    user = UserFactory(region_id="US")
    subscription_give(user, card=DECLINED)
    assert Client().post("/subscriptions/card/", {"card_number": APPROVED}).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/subscriptions/card/", {"card_number": APPROVED}).status_code == 403
    assert client.get("/subscriptions/card/").status_code == 405
    assert Subscription.objects.get(user=user).card.card_last4 == "0002"


@pytest.mark.parametrize("url", ["/subscriptions/", "/subscriptions/card/"])
def test_the_card_provider_failing_is_a_clear_refusal_that_writes_nothing(url, monkeypatch, caplog):
    """Subscribing with a card, or saving one, while the provider fails: 200 with
    `provider_unavailable`, nothing written, the number in no log."""
    user = UserFactory(region_id="US")
    product = subscribable_product()
    subscription_give(user, subscribable_product(), card="")

    def down(**kwargs):
        raise ConnectionError("provider unreachable")

    monkeypatch.setattr(payments.payment_provider_get(), "tokenize", down)
    client = Client()
    client.force_login(user)
    before = everything()
    response = client.post(url, {"product": product.slug, "card_number": APPROVED})

    assert response.status_code == 200
    assert hook(response, "form-error").attrs["data-reason"] == "provider_unavailable"
    assert everything() == before
    assert APPROVED not in caplog.text
