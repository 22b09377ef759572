"""Refunds' shared checks (checkout/services/refunds.py, refund_units.py): the order locked
and whether it may be refunded now, whether a refund leaves nothing paid, and the answer to a
replayed refund or cancellation key (the first refund, or a conflict)."""

from checkout.exceptions import RefundRefused
from checkout.locks import order_qs_select_for_update
from checkout.models import Order, Payment, Refund


def refund_order_lock(*, order_id: int, by) -> Order:
    """The order row locked (two staff refunding at once queue here), with its shopper and
    payment. Raises `RefundRefused` when there is no such order."""
    order = order_qs_select_for_update(order_id=order_id).select_related("user", "payment").first()
    if order is None:
        raise RefundRefused("There is no such order.")
    return order


def refund_order_check(*, order: Order, by) -> None:
    """Whether `by` may refund the locked `order` now; raises `RefundRefused` if not."""
    if order.user_id == by.pk:
        raise RefundRefused("You cannot refund an order of your own.", reason="own_order")
    if order.status == Order.Status.PAYMENT_FAILED:
        raise RefundRefused(
            "Nothing was paid for this order: its card payment failed and the balance "
            "part was already returned."
        )
    payment = getattr(order, "payment", None)
    if payment is not None and payment.status == Payment.Status.AUTHORIZED:
        # Until the capture is confirmed it may still fail and return the balance part
        # itself; a refund now could give the same money back twice.
        raise RefundRefused(
            "The card payment of this order is not confirmed yet. Try again shortly."
        )


def refund_fully_refunded(order: Order, *, adding: int = 0) -> bool:
    """Everything paid came back with the `adding` of this refund, or every unit did (the
    shipping may stay paid)."""
    if order.settled + adding == order.total:
        return True
    lines = list(order.lines.values_list("quantity", "refunded_quantity"))
    return bool(lines) and all(quantity == back for quantity, back in lines)


def refund_amounts_replay(
    existing: Refund, *, order_id, from_balance, from_card, card_to_balance, from_coins
) -> Refund:
    """The first refund of a key, if this call asks for the same; else a conflict."""
    destination = Refund.Destination.BALANCE if card_to_balance else Refund.Destination.CARD
    same = (
        existing.order_id,
        existing.from_balance,
        existing.from_card,
        existing.from_coins,
    ) == (order_id, from_balance, from_card, from_coins) and (
        not from_card or existing.card_destination == destination
    )
    if not same:
        raise RefundRefused(
            "This refund form was already used for another refund. Open the refund page "
            "again to make a new one.",
            reason="conflict",
        )
    return existing


def refund_cancel_replay(existing: Refund, *, order_id: int) -> Refund:
    """The cancellation of a key, if it cancelled this order; else a conflict."""
    if existing.order_id != order_id or existing.order.status != Order.Status.CANCELLED:
        raise RefundRefused(
            "This form was already used for another refund. Open the order again.",
            reason="conflict",
        )
    return existing
