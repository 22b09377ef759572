"""A shopper's region changes only once their Subscribe & Save subscriptions are cancelled
(subscriptions/region_change.py): each is priced, paid and delivered in its own region."""

import pytest

import accounts.services as services
from accounts.exceptions import RegionChangeRefused
from accounts.models import User
from accounts.services import user_region_change
from catalog.models import Region
from checkout.models import CartLine, Order
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.services import subscription_cancel, subscription_pause
from tests.accounts.factories import UserFactory
from tests.subscriptions.given import subscribable_product, subscription_give
from wallet.models import AuditEntry

pytestmark = pytest.mark.django_db


def _region(code: str) -> Region:
    return Region.objects.get(code=code)


def _snapshot(user) -> tuple:
    """Everything a region change could write, apart from the refusal's audit entry."""
    return (
        User.objects.get(pk=user.pk).region_id,
        list(Subscription.objects.order_by("pk").values()),
        list(SubscriptionPeriod.objects.order_by("pk").values()),
        list(CartLine.objects.values()),
        list(Order.objects.values()),
        list(AuditEntry.objects.exclude(action=AuditEntry.Action.REFUSED).values()),
    )


@pytest.mark.parametrize("status", ["active", "paused"])
@pytest.mark.parametrize("to", ["JP", "GB"])
def test_a_subscription_not_cancelled_refuses_the_change_and_nothing_is_written(status, to):
    shopper = UserFactory(region_id="US")
    sub = subscription_give(shopper, subscribable_product(name="Coffee Beans 1 kg"))
    if status == "paused":
        subscription_pause(user=shopper, subscription_id=sub.pk)
    before = _snapshot(shopper)

    with pytest.raises(RegionChangeRefused) as refusal:
        user_region_change(user=shopper, region=_region(to), by=shopper)

    assert refusal.value.reasons == [
        f"they have 1 Subscribe & Save subscription(s) in the US store (Coffee Beans 1 kg "
        f"({status})): cancel your Subscribe & Save subscriptions first"
    ]
    assert _snapshot(shopper) == before
    refused = AuditEntry.objects.get(action=AuditEntry.Action.REFUSED)
    assert "cancel your Subscribe & Save subscriptions first" in refused.detail


def test_between_regions_of_one_currency_a_subscription_still_refuses():
    """FR → DE keeps the euro, but the deliveries' dates and address belong to FR."""
    shopper = UserFactory(region_id="FR")
    subscription_give(shopper)

    with pytest.raises(RegionChangeRefused, match="cancel your Subscribe & Save"):
        user_region_change(user=shopper, region=_region("DE"), by=shopper)

    assert User.objects.get(pk=shopper.pk).region_id == "FR"


def test_only_cancelled_subscriptions_let_the_change_through():
    shopper = UserFactory(region_id="US")
    first = subscription_give(shopper)
    second = subscription_give(shopper)
    for sub in (first, second):
        subscription_cancel(user=shopper, subscription_id=sub.pk)

    user_region_change(user=shopper, region=_region("JP"), by=shopper)

    assert User.objects.get(pk=shopper.pk).region_id == "JP"
    assert set(Subscription.objects.values_list("status", flat=True)) == {"cancelled"}


def test_another_shoppers_subscription_does_not_count():
    subscription_give(UserFactory(region_id="US"))
    shopper = UserFactory(region_id="US")

    user_region_change(user=shopper, region=_region("GB"), by=shopper)

    assert User.objects.get(pk=shopper.pk).region_id == "GB"


def test_the_guard_runs_at_the_subscription_lock_level_after_the_cart():
    guards = [(g.check.__name__, g.locks) for g in services._guards_in_lock_order()]

    assert ("subscriptions_region_change_guard", "subscription") in guards
    names = [name for name, _ in guards]
    assert names.index("checkout_region_change_guard") < names.index(
        "subscriptions_region_change_guard"
    )
    assert names.index("subscriptions_region_change_guard") < names.index(
        "wallet_region_change_guard"
    )
