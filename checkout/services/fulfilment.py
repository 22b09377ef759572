"""Order progress after payment (docs/interface.md §10): staff mark an order shipped (carrier
and tracking number), then delivered. Digital-only orders are delivered when placed
(`order_shipping.order_shipping_fields`). Each step locks the order, checks, writes and audits
in one transaction; the shipped e-mail goes after commit."""

from django.db import transaction
from django.utils import timezone

from checkout.emails import order_shipped_mail_send
from checkout.exceptions import OrderTransitionRefused
from checkout.locks import order_qs_select_for_update
from checkout.models import Order
from checkout.services.order_points import order_points_earn
from wallet.models import AuditEntry
from wallet.services import audit_record

# Audit actions of these steps.
AUDIT_SHIPPED = AuditEntry.Action.ORDER_SHIPPED
AUDIT_DELIVERED = AuditEntry.Action.ORDER_DELIVERED

# A refund does not stop a parcel that is still owed (a part of the order stands).
SHIPPABLE = {Order.Status.PLACED, Order.Status.PARTIALLY_REFUNDED}


def _locked(order_id: int, by) -> Order:
    if by is None or not by.has_perm("checkout.fulfil_order"):
        raise OrderTransitionRefused("You need the permission to ship and deliver orders.")
    order = order_qs_select_for_update(order_id=order_id).first()
    if order is None:
        raise OrderTransitionRefused("There is no such order.")
    return order


def order_ship(*, order_id: int, carrier: str, tracking_number: str, by) -> Order:
    """Mark an order shipped with its carrier and tracking number, audit it, and e-mail the
    shopper after commit. Raises `OrderTransitionRefused`: no permission, nothing to ship
    (digital only), already shipped, or an order that stands no more (payment failed,
    refunded, cancelled), or a carrier or tracking number missing."""
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or not tracking_number:
        raise OrderTransitionRefused("Enter the carrier and the tracking number.")
    with transaction.atomic():
        order = _locked(order_id, by)
        if not order.ships:
            raise OrderTransitionRefused("This order has nothing to ship (digital items only).")
        if order.shipped_at is not None:
            raise OrderTransitionRefused(f"Order {order.number} is already shipped.")
        if order.status not in SHIPPABLE:
            raise OrderTransitionRefused(
                f"Order {order.number} cannot be shipped: it is {order.get_status_display()}."
            )
        order.carrier, order.tracking_number = carrier[:60], tracking_number[:60]
        order.shipped_at = timezone.now()
        if order.status == Order.Status.PLACED:
            order.status = Order.Status.SHIPPED
        order.save(update_fields=["carrier", "tracking_number", "shipped_at", "status"])
        audit_record(
            actor=by,
            action=AUDIT_SHIPPED,
            target=f"order {order.number}",
            detail=f"shipped by {order.carrier}, tracking {order.tracking_number}",
        )
        transaction.on_commit(lambda: order_shipped_mail_send(order_id=order.pk), robust=True)
    return order


def order_deliver(*, order_id: int, by) -> Order:
    """Mark a shipped order delivered and audit it. Raises `OrderTransitionRefused`: no
    permission, not shipped yet, already delivered."""
    with transaction.atomic():
        order = _locked(order_id, by)
        if order.delivered_at is not None:
            raise OrderTransitionRefused(f"Order {order.number} is already delivered.")
        if order.shipped_at is None:
            raise OrderTransitionRefused(
                f"Order {order.number} is not shipped yet: mark it shipped first."
            )
        order.delivered_at = timezone.now()
        if order.status == Order.Status.SHIPPED:
            order.status = Order.Status.DELIVERED
        order.save(update_fields=["delivered_at", "status"])
        audit_record(actor=by, action=AUDIT_DELIVERED, target=f"order {order.number}")
        # Delivered: its points are earned after commit, in their own transaction (docs/points.md).
        transaction.on_commit(lambda: order_points_earn(order_id=order.pk), robust=True)
    return order
