"""What Subscribe & Save says about a shopper's region change (registered in
`SubscriptionsConfig.ready`).

A subscription is priced, paid and delivered in the region it was started in (its currency,
its time zone for the delivery dates, an address there), so one that can still deliver
(active) or be resumed (paused) makes the change wait until it is cancelled. Cancelled ones
never deliver again and do not count.
"""

from accounts.services import RegionChange
from catalog.models import Product
from subscriptions.locks import subscriptions_of_user_qs_select_for_update
from subscriptions.models import Subscription


def subscriptions_region_change_guard(change: RegionChange) -> list[str]:
    """Refuse while the shopper has a subscription that is not cancelled. Their subscription
    rows are locked (lock level "subscription", after the cart), so a subscription being
    started or resumed right now is waited for and then seen."""
    # Every row of theirs is locked (cancelled ones too: no filter inside the lock's query),
    # and the product names read after, unlocked: a product row is never locked here.
    locked = list(subscriptions_of_user_qs_select_for_update(user_id=change.user.pk))
    held = [sub for sub in locked if sub.status != Subscription.Status.CANCELLED]
    if not held:
        return []
    products = dict(
        Product.objects.filter(pk__in={sub.product_id for sub in held}).values_list("pk", "name")
    )
    names = ", ".join(
        f"{products[sub.product_id]} ({sub.get_status_display().lower()})" for sub in held
    )
    return [
        f"they have {len(held)} Subscribe & Save subscription(s) in the "
        f"{change.old_region.code} store ({names}): cancel your Subscribe & Save "
        "subscriptions first"
    ]
