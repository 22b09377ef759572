"""The day's run (subscriptions/services/runs.py): each region on its own date, the reminders
3 days before (once per period, with a price change), a skip, pause or cancel between the
reminder and the run, `date=` for a given day, and one subscription failing unexpectedly
while the others are placed."""

import datetime

import pytest
from django.core import mail

from catalog.models import Price, Product
from checkout.models import Order
from subscriptions.models import Subscription
from subscriptions.services import (
    runs,
    subscription_cancel,
    subscription_pause,
    subscription_skip,
    subscriptions_run,
)
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import fund
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.subscriptions.services_state import at, clock_set, gateway  # noqa: F401

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = D(2027, 3, 10)


def _run(capture, **kwargs):
    with capture(execute=True):
        return subscriptions_run(**kwargs)


def _reminders() -> list:
    return [m for m in mail.outbox if "delivery is on" in m.subject]


def test_each_region_runs_on_its_own_date(monkeypatch, django_capture_on_commit_callbacks):
    # 16:00 UTC on 5 January: the 6th in Tokyo, still the 5th in New York.
    clock_set(monkeypatch, at(2027, 1, 5, 16))
    tokyo, new_york = UserFactory(region_id="JP"), UserFactory(region_id="US")
    product = subscribable_product()
    jp = subscription_give(tokyo, product, due=D(2027, 1, 6))
    us_tomorrow = subscription_give(new_york, product, due=D(2027, 1, 6))
    us_today = subscription_give(new_york, subscribable_product(), due=D(2027, 1, 5))

    summary = _run(django_capture_on_commit_callbacks)

    assert (summary.dates["JP"], summary.dates["US"]) == (D(2027, 1, 6), D(2027, 1, 5))
    assert summary.outcomes["placed"] == 2
    placed = set(Order.objects.values_list("user_id", "lines__product_id"))
    assert placed == {(tokyo.pk, jp.product_id), (new_york.pk, us_today.product_id)}
    us_tomorrow.refresh_from_db()
    assert (us_tomorrow.period_index, us_tomorrow.next_date) == (0, D(2027, 1, 6))


def test_the_reminder_goes_3_days_before_once_with_the_price_and_a_skip_link(
    django_capture_on_commit_callbacks,
):
    shopper = UserFactory(region_id="US")
    product = subscribable_product(price=1000)
    sub = subscription_give(shopper, product, quantity=2, due=DAY)
    paused = subscription_give(UserFactory(region_id="US"), product, due=DAY)
    subscription_pause(user=paused.user, subscription_id=paused.pk)
    withdrawn = subscription_give(UserFactory(region_id="US"), due=DAY)
    Product.objects.filter(pk=withdrawn.product_id).update(is_active=False)

    four_days = _run(django_capture_on_commit_callbacks, date=DAY - datetime.timedelta(days=4))
    three_days = _run(django_capture_on_commit_callbacks, date=DAY - datetime.timedelta(days=3))
    two_days = _run(django_capture_on_commit_callbacks, date=DAY - datetime.timedelta(days=2))

    assert (four_days.reminders, three_days.reminders, two_days.reminders) == (0, 1, 0)
    (reminder,) = _reminders()
    assert reminder.to == [shopper.email]
    assert "$9.50" in reminder.body  # 5% off $10.00
    assert "$19.00" in reminder.body  # two of them
    assert f"/subscriptions/{sub.pk}/skip/?date=2027-03-10" in reminder.body
    assert "price went" not in reminder.body  # no delivery yet to compare with

    # Delivered; the price goes up before the next one: its reminder says so.
    fund(shopper, 5000)
    _run(django_capture_on_commit_callbacks, date=DAY)
    Price.objects.filter(product=product, region_id="US").update(amount=1200)
    mail.outbox.clear()
    _run(django_capture_on_commit_callbacks, date=D(2027, 4, 7))
    (reminder,) = _reminders()
    assert "price went up" in reminder.body
    assert "$9.50 each then, $11.40 each now" in reminder.body


def test_a_skip_pause_or_cancel_after_the_reminder_places_nothing(
    django_capture_on_commit_callbacks,
):
    shopper = UserFactory(region_id="US")
    fund(shopper, 10000)
    subs = {
        action: subscription_give(shopper, due=DAY)
        for action in (subscription_skip, subscription_pause, subscription_cancel)
    }
    reminded = _run(django_capture_on_commit_callbacks, date=DAY - datetime.timedelta(days=3))
    assert reminded.reminders == 3
    for action, sub in subs.items():
        action(user=shopper, subscription_id=sub.pk)

    summary = _run(django_capture_on_commit_callbacks, date=DAY)

    assert summary.due == 0
    assert not Order.objects.exists()
    skipped = Subscription.objects.get(pk=subs[subscription_skip].pk)
    assert skipped.next_date == D(2027, 4, 10)


def test_a_given_date_places_what_is_due_by_then_once_without_making_up_missed_periods(
    django_capture_on_commit_callbacks,
):
    shopper = UserFactory(region_id="US")
    fund(shopper, 20000)
    missed = subscription_give(shopper, due=D(2027, 1, 10))  # the runs of Feb and Mar missed
    today = subscription_give(shopper, due=DAY)
    tomorrow = subscription_give(shopper, due=DAY + datetime.timedelta(days=1))

    first = _run(django_capture_on_commit_callbacks, date=DAY)
    again = _run(django_capture_on_commit_callbacks, date=DAY)

    assert (first.outcomes["placed"], again.outcomes["placed"], again.due) == (2, 0, 0)
    assert set(Order.objects.values_list("lines__product_id", flat=True)) == {
        missed.product_id,
        today.product_id,
    }
    missed.refresh_from_db()
    assert (missed.period_index, missed.next_date) == (3, D(2027, 4, 10))
    tomorrow.refresh_from_db()
    assert tomorrow.period_index == 0


def test_one_subscription_failing_unexpectedly_is_an_error_and_the_others_are_placed(
    monkeypatch, django_capture_on_commit_callbacks
):
    shopper = UserFactory(region_id="US")
    fund(shopper, 10000)
    subs = [subscription_give(shopper, due=DAY) for _ in range(3)]
    later = [subscription_give(shopper, due=DAY + datetime.timedelta(days=2)) for _ in range(2)]
    deliver, remind = runs.subscription_deliver, runs._remind

    def broken(*, subscription_id, today):
        if subscription_id == subs[1].pk:
            raise RuntimeError("a bug")
        return deliver(subscription_id=subscription_id, today=today)

    def broken_reminder(*, subscription_id, **kwargs):
        if subscription_id == later[0].pk:
            raise RuntimeError("another bug")
        return remind(subscription_id=subscription_id, **kwargs)

    monkeypatch.setattr(runs, "subscription_deliver", broken)
    monkeypatch.setattr(runs, "_remind", broken_reminder)
    summary = _run(django_capture_on_commit_callbacks, date=DAY)

    assert (summary.errors, summary.outcomes["placed"], summary.reminders) == (2, 2, 1)
    assert summary.due == 3
    assert Order.objects.count() == 2
