"""The shortest Subscribe & Save path: subscribe, run the day, one order at the discount."""

import pytest

from checkout.models import Order
from subscriptions.services import subscriptions_run
from tests.accounts.factories import UserFactory
from tests.subscriptions.given import subscribable_product, subscription_give

pytestmark = pytest.mark.django_db


def test_a_run_places_the_due_delivery_once_at_five_percent_off(django_capture_on_commit_callbacks):
    user = UserFactory(region_id="US")
    sub = subscription_give(user, subscribable_product(price=1899), quantity=2)
    with django_capture_on_commit_callbacks(execute=True):
        first = subscriptions_run()
        again = subscriptions_run()
    assert (first.outcomes["placed"], again.outcomes["placed"]) == (1, 0)
    order = Order.objects.get(user=user)
    line = order.lines.get()
    assert (line.list_price, line.unit_price, line.quantity) == (1899, 1804, 2)
    sub.refresh_from_db()
    assert (sub.period_index, sub.last_unit_price) == (1, 1804)


def test_the_worker_places_a_new_subscriptions_first_delivery_at_once(
    django_capture_on_commit_callbacks,
):
    from config.jobs import jobs_run_pending

    user = UserFactory(region_id="US")
    with django_capture_on_commit_callbacks(execute=True):  # enqueued after commit
        subscription_give(user, subscribable_product(price=1000))
    with django_capture_on_commit_callbacks(execute=True):  # the worker's run, its capture
        jobs_run_pending()
    assert Order.objects.filter(user=user).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        later = subscriptions_run()
    assert later.outcomes["placed"] == 0
    assert Order.objects.filter(user=user).count() == 1
