"""The shopper's Subscribe & Save actions (subscriptions/services/manage.py): start, change,
skip, pause, resume, cancel. Every refusal writes nothing (`everything()` before and after)."""

import datetime

import pytest

from catalog.models import Price, Product
from checkout.exceptions import PaymentDeclined
from checkout.models import Order, SavedCard
from subscriptions.exceptions import (
    AddressRequired,
    InvalidChange,
    NotSubscribable,
    SubscriptionError,
)
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.services import (
    subscription_cancel,
    subscription_change,
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_skip,
    subscriptions_run,
)
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, address_give
from tests.subscriptions.given import subscribable_product, subscription_give
from tests.subscriptions.services_state import at, clock_set, everything, gateway  # noqa: F401

pytestmark = pytest.mark.django_db

D = datetime.date
Status = Subscription.Status


@pytest.fixture
def shopper(db):
    return UserFactory(region_id="US")


def _create(user, product, **kwargs):
    fields = {"quantity": 1, "every": 1, "card_number": ""} | kwargs
    return subscription_create(user=user, product_slug=product.slug, **fields)


# --- start ----------------------------------------------------------------------------------


def test_a_subscription_starts_today_in_the_shoppers_region_with_its_card_as_a_token(
    monkeypatch,
):
    # 16:00 UTC on 5 January is already the 6th in Tokyo (and still the 5th in New York).
    clock_set(monkeypatch, at(2027, 1, 5, 16))
    tokyo, new_york = UserFactory(region_id="JP"), UserFactory(region_id="US")
    product = subscribable_product()
    address_give(tokyo), address_give(new_york)

    sub = _create(tokyo, product, quantity=3, every=2, card_number="4242 4242 4242 4242")
    other = _create(new_york, product)

    assert (sub.anchor_date, sub.next_date, other.next_date) == (
        D(2027, 1, 6),
        D(2027, 1, 6),
        D(2027, 1, 5),
    )
    assert (sub.status, sub.quantity, sub.every, sub.period_index) == (Status.ACTIVE, 3, 2, 0)
    assert sub.address.is_default
    assert sub.region_id == "JP"
    card = SavedCard.objects.get(user=tokyo)
    assert sub.card == card
    assert card.card_last4 == "4242"
    assert APPROVED not in str(list(SavedCard.objects.values()))  # a token, never the number
    assert other.card is None  # no number and nothing saved: the balance alone pays


def test_without_a_number_the_newest_saved_card_pays(shopper):
    first = subscription_give(shopper, card=APPROVED)
    newest = SavedCard.objects.create(user=shopper, provider="test", token="tok_x", card_last4="1")
    sub = _create(shopper, subscribable_product())
    assert (first.card_id, sub.card_id) != (None, None)
    assert sub.card == newest


def _no_address(user):
    return subscribable_product()


def _withdrawn(user):
    address_give(user)
    return subscribable_product(is_active=False)


def _not_eligible(user):
    address_give(user)
    return ProductFactory(kind=Product.Kind.PHYSICAL, subscribable=False)


def _not_priced_here(user):
    address_give(user)
    return ProductFactory(kind=Product.Kind.PHYSICAL, subscribable=True, prices={"JP": 1500})


def _subscribed_already(user):
    return subscription_give(user).product


@pytest.mark.parametrize(
    ("setup", "fields", "error", "reason"),
    [
        (_no_address, {}, AddressRequired, "address_required"),
        (_withdrawn, {}, NotSubscribable, "not_subscribable"),
        (_not_eligible, {}, NotSubscribable, "not_subscribable"),
        (_not_priced_here, {}, NotSubscribable, "not_subscribable"),
        (_subscribed_already, {}, SubscriptionError, "already_subscribed"),
        (_subscribed_already, {"card_number": APPROVED}, SubscriptionError, "already_subscribed"),
        (_withdrawn, {"quantity": 0}, InvalidChange, "quantity"),
        (_withdrawn, {"quantity": 21}, InvalidChange, "quantity"),
        (_withdrawn, {"every": 4}, InvalidChange, "every"),
        (_withdrawn, {"every": 12}, InvalidChange, "every"),
    ],
)
def test_a_refused_start_writes_nothing(shopper, setup, fields, error, reason):
    product = setup(shopper)
    before = everything()
    with pytest.raises(error) as refused:
        _create(shopper, product, **fields)
    assert refused.value.reason == reason
    assert everything() == before


def test_a_card_number_the_provider_refuses_writes_nothing(shopper):
    address_give(shopper)
    product = subscribable_product()
    before = everything()
    for number in ["4242 4242 4242 4241", "1234", "abc"]:
        with pytest.raises(PaymentDeclined):
            _create(shopper, product, card_number=number)
    assert everything() == before


# --- change ---------------------------------------------------------------------------------


def test_a_new_frequency_keeps_the_next_date_and_the_31st_and_the_next_run_orders_again(
    shopper, django_capture_on_commit_callbacks
):
    sub = subscription_give(shopper, due=D(2027, 1, 31))
    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run(date=D(2027, 1, 31))
    sub.refresh_from_db()
    assert (sub.period_index, sub.next_date) == (1, D(2027, 2, 28))

    sub = subscription_change(user=shopper, subscription_id=sub.pk, quantity=4, every=2)
    sub.refresh_from_db()
    assert (sub.quantity, sub.every, sub.next_date) == (4, 2, D(2027, 2, 28))
    assert sub.period_index >= 1  # period 0 (its row and its order's key) is never reused
    with django_capture_on_commit_callbacks(execute=True):
        run = subscriptions_run(date=D(2027, 2, 28))
    assert run.outcomes["placed"] == 1
    orders = Order.objects.filter(user=shopper).order_by("pk")
    assert [o.lines.get().quantity for o in orders] == [1, 4]
    sub.refresh_from_db()
    assert sub.next_date == D(2027, 4, 30)  # two months on, back on the month's last day
    assert SubscriptionPeriod.objects.filter(subscription=sub, status="placed").count() == 2


def test_a_refused_change_writes_nothing(shopper):
    sub = subscription_give(shopper, quantity=2)
    before = everything()
    for fields, reason in [({"quantity": 0, "every": 2}, "quantity"), ({"every": 5}, "every")]:
        with pytest.raises(InvalidChange) as refused:
            subscription_change(user=shopper, subscription_id=sub.pk, **fields)
        assert refused.value.reason == reason
    assert everything() == before


# --- skip -----------------------------------------------------------------------------------


def test_skip_records_the_period_and_moves_one_period_once_for_a_double_click(shopper):
    sub = subscription_give(shopper, every=3, due=D(2027, 1, 31))
    subscription_skip(user=shopper, subscription_id=sub.pk, due_date=D(2027, 1, 31))
    again = subscription_skip(user=shopper, subscription_id=sub.pk, due_date=D(2027, 1, 31))
    assert (again.period_index, again.next_date) == (1, D(2027, 4, 30))
    period = SubscriptionPeriod.objects.get(subscription=sub)
    assert (period.index, period.due_date, period.status) == (0, D(2027, 1, 31), "skipped")
    sub.refresh_from_db()
    assert (sub.period_index, sub.next_date) == (1, D(2027, 4, 30))
    # Without a date the next one is skipped.
    subscription_skip(user=shopper, subscription_id=sub.pk)
    sub.refresh_from_db()
    assert sub.next_date == D(2027, 7, 31)


# --- pause, resume, cancel ------------------------------------------------------------------


def test_resume_after_the_date_passed_delivers_on_the_first_date_from_today(shopper, monkeypatch):
    clock_set(monkeypatch, at(2027, 1, 31))
    sub = subscription_give(shopper)
    Subscription.objects.filter(pk=sub.pk).update(failed_attempts=2)
    subscription_pause(user=shopper, subscription_id=sub.pk)
    paused = subscription_pause(user=shopper, subscription_id=sub.pk)  # idempotent
    assert (paused.status, paused.pause_reason) == (Status.PAUSED, "shopper")
    before = everything()
    with pytest.raises(InvalidChange):
        subscription_skip(user=shopper, subscription_id=sub.pk)
    assert everything() == before

    clock_set(monkeypatch, at(2027, 4, 1))  # 28 Feb and 31 Mar went by while paused
    sub = subscription_resume(user=shopper, subscription_id=sub.pk)
    sub.refresh_from_db()
    assert (sub.status, sub.pause_reason, sub.failed_attempts) == (Status.ACTIVE, "", 0)
    assert (sub.period_index, sub.next_date) == (3, D(2027, 4, 30))

    clock_set(monkeypatch, at(2027, 5, 31))
    subscription_pause(user=shopper, subscription_id=sub.pk)
    sub = subscription_resume(user=shopper, subscription_id=sub.pk)
    assert sub.next_date == D(2027, 5, 31)  # due today: the day's run delivers it


def test_a_product_no_longer_sold_cannot_resume_and_nothing_is_written(shopper):
    gone = {
        "withdrawn": {"is_active": False},
        "not subscribable": {"subscribable": False},
        "not priced": None,
    }
    subs = {why: subscription_give(shopper) for why in gone}
    for why, fields in gone.items():
        sub = subs[why]
        subscription_pause(user=shopper, subscription_id=sub.pk)
        if fields is None:
            Price.objects.filter(product_id=sub.product_id, region_id="US").delete()
        else:
            Product.objects.filter(pk=sub.product_id).update(**fields)
    before = everything()
    for sub in subs.values():
        with pytest.raises(NotSubscribable):
            subscription_resume(user=shopper, subscription_id=sub.pk)
    assert everything() == before


def test_cancel_is_for_good_and_idempotent(shopper):
    sub = subscription_give(shopper)
    subscription_pause(user=shopper, subscription_id=sub.pk)
    first = subscription_cancel(user=shopper, subscription_id=sub.pk)
    assert (first.status, first.pause_reason, first.cancelled_at is not None) == (
        Status.CANCELLED,
        "",
        True,
    )
    before = everything()
    assert subscription_cancel(user=shopper, subscription_id=sub.pk).cancelled_at == (
        first.cancelled_at
    )
    for action, kwargs in [
        (subscription_change, {"quantity": 2}),
        (subscription_pause, {}),
        (subscription_resume, {}),
        (subscription_skip, {}),
    ]:
        with pytest.raises(InvalidChange):
            action(user=shopper, subscription_id=sub.pk, **kwargs)
    assert everything() == before
    # Cancelled, the product can be subscribed to again.
    assert _create(shopper, sub.product).pk != sub.pk


def test_another_shoppers_subscription_does_not_exist_for_them(shopper):
    sub = subscription_give(shopper)
    other = UserFactory(region_id="US")
    before = everything()
    for action, kwargs in [
        (subscription_change, {"quantity": 2}),
        (subscription_skip, {}),
        (subscription_pause, {}),
        (subscription_resume, {}),
        (subscription_cancel, {}),
    ]:
        with pytest.raises(Subscription.DoesNotExist):
            action(user=other, subscription_id=sub.pk, **kwargs)
    assert everything() == before
