"""A failed payment is tried again at most once a day, however often the run is started (a
cron starting it every minute must not use up the retries in minutes)."""

import datetime

import pytest
from django.core.management import CommandError, call_command

from checkout.models import Order
from subscriptions.models import Subscription
from subscriptions.services import subscriptions_run
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import DECLINED
from tests.subscriptions.given import subscription_give
from tests.subscriptions.services_state import everything, gateway  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_runs_on_the_same_day_try_a_failed_payment_once_and_the_next_day_again():
    sub = subscription_give(UserFactory(region_id="US"), card=DECLINED)
    day = sub.next_date

    outcomes = [subscriptions_run(date=day).outcomes for _ in range(3)]
    sub.refresh_from_db()
    assert [o["failed"] for o in outcomes] == [1, 0, 0]
    assert (sub.failed_attempts, sub.last_attempt_on, sub.status) == (1, day, "active")

    for later in (1, 2):
        subscriptions_run(date=day + datetime.timedelta(days=later))
        subscriptions_run(date=day + datetime.timedelta(days=later))
    sub.refresh_from_db()
    assert (sub.failed_attempts, sub.status) == (3, "active")
    subscriptions_run(date=day + datetime.timedelta(days=3))
    sub.refresh_from_db()
    assert (sub.failed_attempts, sub.status, sub.pause_reason) == (4, "paused", "payment_failed")
    assert not Order.objects.exists()


def test_a_date_more_than_400_days_ahead_is_refused_and_writes_nothing():
    sub = subscription_give(UserFactory(region_id="US"))
    before = everything()
    far = sub.next_date + datetime.timedelta(days=402)  # the US day may be UTC's eve
    with pytest.raises(CommandError, match="days ahead"):
        call_command("subscriptions_run", "--date", far.isoformat())
    assert everything() == before
    assert Subscription.objects.get(pk=sub.pk).period_index == 0
