"""Reward points of an order (docs/points.md, docs/interface.md §13): what of the order still
earns, earning it once the order is delivered, and taking it back in proportion when a refund
gives money back.

The ledger side (pending points, their release, reversals, what is owed) is the wallet's
`points_order_settle`; checkout only says what the order paid in money for goods and when it
was delivered. Settling is target-based, so every call here is idempotent and safe to repeat:
a hook missed or run twice, the sweep (`checkout.points_tasks`) and a refund all converge on
the same figure.
"""

import datetime
import logging

from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from checkout.locks import order_qs_select_for_update
from checkout.models import Order, OrderGiftCard, OrderLine, Payment
from wallet.models import PointsEarning
from wallet.services import points_order_settle

logger = logging.getLogger(__name__)

# An order that never stood earns nothing, however it was delivered.
NEVER_STOOD = (Order.Status.PAYMENT_FAILED, Order.Status.CANCELLED)
# The card part of an order is money only once the provider took it.
CARD_TAKEN = (Payment.Status.CAPTURED, Payment.Status.PARTLY_REFUNDED, Payment.Status.REFUNDED)
# How far back the sweep looks for a delivered order without points (a hook that failed).
SWEEP_DAYS = 30


def order_points_reference(order: Order) -> str:
    """The earning's reference: one earning per order."""
    return f"order:{order.number}"


def order_points_paid(order: Order) -> int:
    """What of `order` still earns points, in minor units of its currency (never below 0).

    The money paid for goods and shipping: the total, less promotional credit and coins (they
    are not money the shopper paid now) and less the card-only lines (gift cards and coin
    packs are money instruments: their money earns when it is spent on goods). Less what
    refunds gave back of it: everything refunded to the balance or the card, and what was
    withheld for good, except what went back for the card-only lines. A refund is counted
    against money first (credit refunded counts as money): conservative, the shopper never
    earns on money that came back.
    """
    card_only, card_only_back = 0, 0
    for line in _card_only_lines(order):
        card_only += line.paid
        card_only_back += _units_back_paid(line)
    paid = order.total - order.credit_applied - order.coins_applied - card_only
    back = order.balance_refunded + order.card_refunded + order.card_withheld - card_only_back
    return max(0, paid - max(0, back))


def _card_only_lines(order: Order) -> list[OrderLine]:
    gift = OrderGiftCard.objects.filter(line=OuterRef("pk"))
    return list(
        OrderLine.objects.filter(order_id=order.pk).filter(Q(pack_coins__gt=0) | Exists(gift))
    )


def _units_back_paid(line: OrderLine) -> int:
    """What the refunded units of a line paid: refunds return the units that paid the most
    first (checkout/services/refund_units.py), so the same units count here."""
    if not line.refunded_quantity:
        return 0
    parts = list(line.unit_discounts) or [0] * line.quantity
    if len(parts) != line.quantity:
        # Stored without per-unit parts: the discount spread evenly, rounded up, so what came
        # back of the card-only line is never over-counted (that would raise the points).
        parts = [-(-line.discount // line.quantity)] * line.quantity
    paid_each = sorted((max(0, line.unit_price - part) for part in parts), reverse=True)
    return sum(paid_each[: line.refunded_quantity])


def order_points_earn(*, order_id: int) -> PointsEarning | None:
    """Earn the points of a delivered order (pending for POINTS_PENDING_DAYS), once.

    In its own transaction: locks the order (then the wallet locks its earning and accounts:
    docs/ledger.md), and earns only for an order delivered whose card part, if any, the
    provider has captured, and that stood (not payment failed or cancelled). Earns on what the
    order still pays (`order_points_paid`): an order refunded before delivery earns on the
    net. Idempotent: an order that earned already is settled to the same figure (never
    raised). Returns the earning (None: nothing to earn, or not yet).

    Never raises: it runs after commit from the delivery, payment and gift card hooks and
    from the sweep; a failure is logged and the sweep tries again.
    """
    try:
        with transaction.atomic():
            order = order_qs_select_for_update(order_id=order_id).select_related("user").first()
            if order is None or not _earns_now(order):
                return None
            return _settle(order, delivered_at=order.delivered_at)
    except Exception:
        logger.exception("order #%s: its points were not earned", order_id)
        return None


def order_points_refunded(*, order: Order) -> PointsEarning | None:
    """After a refund, under the caller's order lock and in its transaction: take back the
    points the refunded money had earned (in proportion: the target is recomputed on what the
    order still pays). Never earns: an order not earned yet earns later on the net.
    Idempotent. Raises what the wallet raises (the caller's refund then rolls back whole)."""
    return _settle(order, delivered_at=None)


def _earns_now(order: Order) -> bool:
    if order.delivered_at is None or order.status in NEVER_STOOD:
        return False
    if not order.card_charged:
        return True
    payment = Payment.objects.filter(order_id=order.pk).values_list("status", flat=True).first()
    return payment in CARD_TAKEN


def _settle(order: Order, *, delivered_at) -> PointsEarning | None:
    return points_order_settle(
        user=order.user,
        reference=order_points_reference(order),
        currency=order.currency,
        paid=order_points_paid(order),
        delivered_at=delivered_at,
    )


def order_points_earn_missed(*, now: datetime.datetime | None = None) -> int:
    """The sweep (docs/worker.md): earn for the orders delivered in the last SWEEP_DAYS that
    have no earning yet (a hook that failed or never ran). Orders paid only with credit and
    coins cannot earn and are not looked at. Returns how many orders earned now."""
    now = now or timezone.now()
    earned = PointsEarning.objects.filter(
        reference=Concat(Value("order:"), OuterRef("number"), output_field=CharField())
    )
    candidates = (
        Order.objects.filter(delivered_at__gte=now - datetime.timedelta(days=SWEEP_DAYS))
        .exclude(status__in=NEVER_STOOD)
        .exclude(Exists(earned))
        .filter(Q(card_charged__gt=0) | Q(balance_applied__gt=F("credit_applied")))
        .order_by("delivered_at", "pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for order_id in list(candidates) if order_points_earn(order_id=order_id))
