"""The only home of `select_for_update` in checkout (the global lock order is written once, in
docs/ledger.md)."""

from checkout.models import Cart, Order


def cart_qs_select_for_update(*, user_id: int):
    """Lock the shopper's cart: placing an order and changing the cart queue on it."""
    return Cart.objects.select_for_update().filter(user_id=user_id)


def order_qs_select_for_update(*, order_id: int):
    """Lock one order: two refunds of the same order queue here."""
    # `of=self`: callers may join the shopper; only the order row is locked.
    return Order.objects.select_for_update(of=("self",)).filter(pk=order_id)
