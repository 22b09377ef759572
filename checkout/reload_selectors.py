"""Reads of the reload pages, scoped to the shopper."""

from checkout.models import Reload

RECENT_RELOADS = 10


def reload_list_for_user(*, user, limit: int = RECENT_RELOADS) -> list[Reload]:
    """The shopper's latest reloads and auto-reloads, newest first, with the order an
    auto-reload followed (one query whatever the number)."""
    return list(Reload.objects.filter(user=user).select_related("order").order_by("-pk")[:limit])
