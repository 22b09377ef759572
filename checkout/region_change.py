"""What checkout says about a shopper's region change (registered in `CheckoutConfig.ready`).

A cart is priced in the shopper's region, and an order still open can move money back into
the old currency (a refund to the balance), so both make the change wait.
"""

from accounts.services import RegionChange
from checkout.locks import cart_qs_select_for_update
from checkout.models import AutoReload, Cart, CartGiftCard, CartLine, Order

# Orders that can no longer move money to or from the shopper. Any other status is open: a
# status added later counts as open until it is named here (failing safe). "payment_failed"
# and "cancelled" are the statuses of docs/interface.md §10 that end an order.
CLOSED_ORDER_STATUSES = frozenset({Order.Status.REFUNDED, "payment_failed", "cancelled"})


def checkout_region_change_guard(change: RegionChange) -> list[str]:
    """Refuse while the saved cart has lines or gift cards (both priced in the old region's
    currency: the shopper empties the cart first), or while an order in the old currency is open
    (it may still be refunded into that currency's balance; between regions of one currency a
    refund stays on show, so only the cart counts there), or while auto-reload is on in the old
    currency.

    The cart is locked first, and the orders read after: orders are placed under the cart
    lock, so an order being placed right now is waited for and then seen (an empty cart row is
    made for a shopper who has none, so there is always a row to wait on).
    """
    cart, _ = Cart.objects.get_or_create(user=change.user)
    cart_qs_select_for_update(user_id=change.user.pk).get()
    reasons = []
    items = CartLine.objects.filter(cart=cart).count()
    if items:
        reasons.append(
            f"their cart holds {items} item(s) priced in the {change.old_region.code} store"
        )
    gift_cards = CartGiftCard.objects.filter(cart=cart).count()
    if gift_cards:
        reasons.append(
            f"their cart holds {gift_cards} gift card(s) in {change.old_region.currency}"
        )
    # Auto-reload charges a card in the currency it was set in: in another it would never
    # fire, and the shopper would believe it on.
    if (
        change.currency_changes
        and AutoReload.objects.filter(user=change.user, enabled=True).exists()
    ):
        reasons.append(f"their auto-reload is on in {change.old_region.currency}")
    if change.currency_changes:
        numbers = list(
            Order.objects.filter(user=change.user, currency=change.old_region.currency)
            .exclude(status__in=CLOSED_ORDER_STATUSES)
            .order_by("id")
            .values_list("number", flat=True)
        )
        if numbers:
            shown = ", ".join(numbers[:5])
            if len(numbers) > 5:
                shown += f" and {len(numbers) - 5} more"
            reasons.append(f"their order(s) {shown} in {change.old_region.currency} are still open")
    return reasons
