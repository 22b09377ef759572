"""Set-up shared by the Subscribe & Save service tests: a fresh test gateway per test, a
frozen clock, and a snapshot of every subscription row (with shop_state: nothing written)."""

import datetime

import pytest
from django.core import mail

from checkout import payments
from checkout.models import SavedCard
from subscriptions.models import Subscription, SubscriptionPeriod
from tests.checkout.shopping import shop_state

UTC = datetime.UTC


@pytest.fixture(autouse=True)
def gateway():
    """A fresh `TestGateway`: it remembers authorisations by idempotency key, and the keys of
    deliveries (`subscription:<id>:…`) repeat from one test to the next."""
    payments._provider = None
    yield payments.payment_provider_get()
    payments._provider = None


def clock_set(monkeypatch, moment: datetime.datetime) -> None:
    """Freeze `timezone.now()` (so each region's today, catalog.regions.region_today)."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)


def at(year, month, day, hour=12) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=UTC)


def everything():
    """All a Subscribe & Save write could change: the shop, subscriptions, periods, cards,
    e-mails sent."""
    return (
        shop_state(),
        list(Subscription.objects.order_by("pk").values()),
        list(SubscriptionPeriod.objects.order_by("pk").values()),
        list(SavedCard.objects.order_by("pk").values()),
        len(mail.outbox),
    )
