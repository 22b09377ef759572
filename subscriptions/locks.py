"""The only home of `select_for_update` in subscriptions (the global lock order is written
once, in docs/ledger.md: cart → subscription → …)."""

from subscriptions.models import Subscription


def subscription_qs_select_for_update(*, subscription_id: int):
    """Lock one subscription: the shopper's changes (skip, pause, cancel, quantity) and a run
    placing its delivery queue here, so a delivery is decided on what the shopper last said."""
    return Subscription.objects.select_for_update(of=("self",)).filter(pk=subscription_id)


def subscriptions_of_user_qs_select_for_update(*, user_id: int):
    """Lock a shopper's subscriptions in primary-key order: starting one counts the active
    ones (the larger discount from five) under these locks."""
    return Subscription.objects.select_for_update().filter(user_id=user_id).order_by("pk")
