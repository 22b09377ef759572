"""The only home of `select_for_update` in checkout (the global lock order is written once, in
docs/ledger.md)."""

from checkout.models import AutoReload, Cart, Order, OrderGiftCard, Reload


def cart_qs_select_for_update(*, user_id: int):
    """Lock the shopper's cart: placing an order and changing the cart queue on it."""
    return Cart.objects.select_for_update().filter(user_id=user_id)


def order_qs_select_for_update(*, order_id: int):
    """Lock one order: two refunds of the same order queue here."""
    # `of=self`: callers may join the shopper; only the order row is locked.
    return Order.objects.select_for_update(of=("self",)).filter(pk=order_id)


def reload_qs_select_for_update(*, reload_id: int):
    """Lock one reload: the request, its replay and the worker finishing it queue here, so its
    balance credit is posted once."""
    # `of=self`: callers join the order (nullable: a plain reload has none); only this row.
    return Reload.objects.select_for_update(of=("self",)).filter(pk=reload_id)


def autoreload_qs_select_for_update(*, user_id: int):
    """Lock a shopper's auto-reload settings: saving them and a declined auto-reload turning
    them off queue here."""
    return AutoReload.objects.select_for_update().filter(user_id=user_id)


def ordergiftcard_qs_select_for_update(*, order_id: int):
    """Lock an order's bought gift cards, in primary-key order (after the order's own lock:
    docs/ledger.md): issuing them on payment and cancelling them queue here."""
    return (
        OrderGiftCard.objects.select_for_update(of=("self",))
        .filter(order_id=order_id)
        .order_by("pk")
    )


def ordergiftcard_qs_select_for_update_by_pk(*, gift_card_id: int):
    """Lock one bought gift card's delivery: two delivery jobs (a retry and the sweep, or two
    workers) and staff sending it again queue here, so one of them sends it."""
    return OrderGiftCard.objects.select_for_update(of=("self",)).filter(pk=gift_card_id)
