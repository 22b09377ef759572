"""Reads of Subscribe & Save for the shopper's pages (docs/subscriptions.md): the list with
each subscription's price now and its recent run history, one subscription, and what the
product page's subscribe form shows. Each is a fixed number of queries however many rows."""

from dataclasses import dataclass

from django.db.models import Case, Count, OuterRef, Prefetch, Q, Subquery, Value, When

from accounts.addresses import address_list_for_user
from accounts.models import Address
from catalog.models import Price
from checkout.models import SavedCard
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.pricing import DeliveryPrice, delivery_price

Status = Subscription.Status

HISTORY_SHOWN = 5  # periods of run history on a row of the list


def subscription_active_count(*, user) -> int:
    """How many active subscriptions the shopper has (the discount's step counts them)."""
    return Subscription.objects.filter(user=user, status=Status.ACTIVE).count()


def subscription_list_for_user(*, user):
    """The shopper's subscriptions, newest first, not cancelled ones before cancelled ones:
    each with `list_price` (the catalog's unit price in its region now, None when no longer
    priced there), its product and region, and `history` (its last HISTORY_SHOWN periods,
    newest first, each with its order). Lazy: paginate it; a page is three queries."""
    price = Price.objects.filter(product=OuterRef("product_id"), region=OuterRef("region_id"))
    history = SubscriptionPeriod.objects.select_related("order").order_by("-due_date", "-id")
    return (
        Subscription.objects.filter(user=user)
        .select_related("product", "region", "card")
        .annotate(list_price=Subquery(price.values("amount")[:1]))
        .prefetch_related(Prefetch("periods", queryset=history[:HISTORY_SHOWN], to_attr="history"))
        .annotate(ended=Case(When(status=Status.CANCELLED, then=Value(1)), default=Value(0)))
        .order_by("ended", "-id")
    )


def subscription_get_for_user(*, user, subscription_id: int) -> Subscription:
    """One of the shopper's subscriptions with its product, region and `list_price`; another
    shopper's (or none) is `Subscription.DoesNotExist`."""
    return subscription_list_for_user(user=user).prefetch_related(None).get(pk=subscription_id)


def subscription_price(sub: Subscription, *, active_count: int) -> DeliveryPrice | None:
    """What the next delivery of `sub` costs now (`list_price` annotated), before shipping and
    promotions; None when its product is no longer priced in its region."""
    if sub.list_price is None or not sub.product.is_active:
        return None
    return delivery_price(
        list_price=sub.list_price, quantity=sub.quantity, active_count=active_count
    )


def subscription_skipped_on(sub: Subscription, *, due_date) -> bool:
    """Whether the delivery of `sub` due on `due_date` is recorded skipped (a double click's
    second skip skips nothing more: it says so truthfully)."""
    return sub.periods.filter(due_date=due_date, status=SubscriptionPeriod.Status.SKIPPED).exists()


@dataclass(frozen=True)
class SubscribeBox:
    """What the product page's subscribe form shows a signed-in shopper."""

    price: DeliveryPrice  # one unit, with the percent this new subscription would get
    address: Address | None  # the default delivery address
    card: SavedCard | None  # the saved card the deliveries would use (newest)
    subscribed: bool  # a subscription of this product that is not cancelled exists


def subscribe_box_get(*, user, product) -> SubscribeBox:
    """The subscribe form's figures for `product` (priced: `product.price`): three queries."""
    counts = Subscription.objects.filter(user=user).aggregate(
        active=Count("pk", filter=Q(status=Status.ACTIVE)),
        this=Count("pk", filter=Q(product=product) & ~Q(status=Status.CANCELLED)),
    )
    address = next((a for a in address_list_for_user(user=user) if a.is_default), None)
    return SubscribeBox(
        # The new subscription counts among the active ones once it exists.
        price=delivery_price(
            list_price=product.price, quantity=1, active_count=counts["active"] + 1
        ),
        address=address,
        card=SavedCard.objects.filter(user=user).order_by("-pk").first(),
        subscribed=counts["this"] > 0,
    )
