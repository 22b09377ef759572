"""Refunds, per source, never above what that source paid; a full refund gives the promotions'
uses back. Refunds of units, priced on the stored per-unit discounts, are in `refund_units`."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.money import format_money
from checkout.emails import order_refunded_mail_send
from checkout.exceptions import (
    RefundRefused,
)
from checkout.locks import order_qs_select_for_update
from checkout.models import Order, OrderLine, Payment, Refund
from checkout.payments import payment_provider_get
from promotions.services import promotion_redemptions_release
from wallet.models import Account, AuditEntry, Transfer
from wallet.services import (
    Leg,
    audit_record,
    audit_refusal_record,
    system_account_get_or_create,
    transfer_create,
    wallet_account_get_or_create,
    wallet_spend_return,
)

logger = logging.getLogger(__name__)


def order_refund(
    *,
    order_id: int,
    from_balance: int,
    from_card: int,
    card_to_balance: bool,
    reason: str,
    idempotency_key: str,
    by,
) -> Refund:
    """Refund part or all of an order, per source, never above what that source paid.

    The part paid from the balance goes back to the balance (a refund transfer); the card
    part goes back to the card through the provider (after commit), or to the balance when
    staff choose. The order row is locked first, so two staff refunding at once queue and the
    second sees the first's refund; database constraints stand behind the limits. Every
    refund is audited (`order_refunded`), and so is every refused attempt (`refused`, written
    after the refusal's rollback so it stays).

    Idempotent on `idempotency_key`: a replay with the same order and amounts returns the
    first refund; with others it is refused as a conflict. Raises `RefundRefused`: no
    permission, the actor's own order, an order whose card payment failed or is not captured
    yet, amounts that are not positive or more than is left, no reason, a conflicting replay.
    """
    try:
        return _order_refund(
            order_id=order_id,
            from_balance=from_balance,
            from_card=from_card,
            card_to_balance=card_to_balance,
            reason=reason,
            idempotency_key=idempotency_key,
            by=by,
        )
    except RefundRefused as refusal:
        # After the refusal rolled the attempt back, in a transaction of its own.
        audit_refusal_record(
            actor=by if by is not None and by.is_authenticated else None,
            target=f"refund of order #{order_id}",
            detail=f"{refusal} (balance part {from_balance}, card part {from_card})",
        )
        raise


def _replay(existing: Refund, *, order_id, from_balance, from_card, card_to_balance) -> Refund:
    """The first refund of a key, if this call asks for the same; else a conflict."""
    destination = Refund.Destination.BALANCE if card_to_balance else Refund.Destination.CARD
    same = (existing.order_id, existing.from_balance, existing.from_card) == (
        order_id,
        from_balance,
        from_card,
    ) and (not from_card or existing.card_destination == destination)
    if not same:
        raise RefundRefused(
            "This refund form was already used for another refund. Open the refund page "
            "again to make a new one.",
            reason="conflict",
        )
    return existing


def _order_refund(
    *, order_id, from_balance, from_card, card_to_balance, reason, idempotency_key, by
) -> Refund:
    if by is None or not by.has_perm("checkout.refund_order"):
        raise RefundRefused("You need the permission to refund orders.")
    if from_balance < 0 or from_card < 0 or from_balance + from_card == 0:
        raise RefundRefused("Refund a positive amount.")
    if not reason.strip():
        raise RefundRefused("Say why the order is refunded.")
    asked = {
        "order_id": order_id,
        "from_balance": from_balance,
        "from_card": from_card,
        "card_to_balance": card_to_balance,
    }
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, **asked)
    try:
        with transaction.atomic():
            order = refund_order_lock(order_id=order_id, by=by)
            # Again under the lock: a concurrent submit of this same refund may have committed
            # while we waited, and its replay must get that refund, not "more than is left".
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, **asked)
            refund_order_check(order=order, by=by)
            if from_balance > order.balance_applied - order.balance_refunded:
                raise RefundRefused("That is more than is left to refund to the balance.")
            if from_card > order.card_charged - order.card_refunded:
                raise RefundRefused("That is more than is left to refund to the card.")
            refund = refund_record(
                order=order,
                from_balance=from_balance,
                from_card=from_card,
                card_to_balance=card_to_balance,
                reason=reason,
                idempotency_key=idempotency_key,
                by=by,
            )
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, **asked)
    return refund


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


def refund_record(
    *,
    order: Order,
    from_balance: int,
    from_card: int,
    card_to_balance: bool,
    reason: str,
    idempotency_key: str,
    by,
    units: dict | None = None,
    clawed_back: int = 0,
    cancel: bool = False,
) -> Refund:
    """Post a refund the caller has checked, under the order lock it holds: the ledger
    movements, the order's refunded figures and status (`cancelled` for a cancellation), the
    refund row, the audit entry, the card refund and the e-mail after commit; a full refund
    or a cancellation gives the promotions' uses back (PROMOTION_RELEASE_ON_REFUND)."""
    to_card = bool(from_card and not card_to_balance)
    order.balance_refunded += from_balance
    order.card_refunded += from_card
    order.status = (
        Order.Status.CANCELLED
        if cancel
        else Order.Status.REFUNDED
        if order.refunded == order.total
        else Order.Status.PARTIALLY_REFUNDED
    )
    if _fully_refunded(order) and settings.PROMOTION_RELEASE_ON_REFUND:
        # Promotion usage comes after the order and before credit lots and wallet accounts
        # in the global lock order (docs/ledger.md): released before the money moves.
        promotion_redemptions_release(order_number=order.number)
    transfer, card_transfer = _refund_transfers(
        order,
        from_balance=from_balance,
        from_card=from_card if card_to_balance else 0,
        idempotency_key=idempotency_key,
        by=by,
    )
    order.save(update_fields=["balance_refunded", "card_refunded", "status"])
    refund = Refund.objects.create(
        order=order,
        from_balance=from_balance,
        from_card=from_card,
        card_destination=Refund.Destination.BALANCE if card_to_balance else Refund.Destination.CARD,
        card_status=Refund.CardStatus.PENDING if to_card else Refund.CardStatus.NONE,
        reason=reason.strip()[:200],
        created_by=by,
        transfer=transfer or card_transfer,
        card_transfer=card_transfer if transfer else None,
        units=units or {},
        clawed_back=clawed_back,
        idempotency_key=idempotency_key,
    )
    kept = f"; {_money(clawed_back, order)} kept back (promotion)" if clawed_back > 0 else ""
    audit_record(
        actor=by,
        action=AuditEntry.Action.ORDER_REFUNDED,
        target=f"order {order.number}",
        detail=f"{'cancelled, ' if cancel else ''}refund #{refund.pk}: "
        f"{_money(from_balance, order)} of the balance "
        f"part and {_money(from_card, order)} of the card part "
        f"({'to the card' if to_card else 'to the balance'}){kept}: {refund.reason}",
    )
    if to_card:
        # After commit: the provider is an outside call, never made under the lock.
        transaction.on_commit(lambda: _card_refund(refund.pk), robust=True)
    # The shopper hears of it after commit (never the staff reason: it is internal).
    transaction.on_commit(lambda: order_refunded_mail_send(refund_id=refund.pk), robust=True)
    logger.info("order %s refunded: %s to balance", order.number, from_balance)
    return refund


def _fully_refunded(order: Order) -> bool:
    """Everything paid came back, or every unit did (the shipping may stay paid)."""
    if order.refunded == order.total:
        return True
    lines = list(order.lines.values_list("quantity", "refunded_quantity"))
    return bool(lines) and all(quantity == back for quantity, back in lines)


def _refund_transfers(order: Order, *, from_balance, from_card, idempotency_key, by):
    """What goes back to the balance: (the balance part's transfer, the card part's transfer
    when it is separate). An order paid without promotional credit moves everything in one
    refund transfer (the balance part from purchases, a card part staff send to the balance
    from card refunds), so the refund row points at the whole of its ledger movement. With
    credit, the balance part goes back through the wallet's spend return, credit to its lots
    with their old expiry, and a card part sent to the balance is a transfer of its own."""
    if not from_balance + from_card:
        return None, None
    account = wallet_account_get_or_create(user=order.user, currency=order.currency)
    description = f"Refund of order {order.number}"
    reference = f"order:{order.number}"
    if not order.credit_applied:
        sources = [(Account.Kind.PURCHASES, from_balance), (Account.Kind.CARD_REFUNDS, from_card)]
        legs = [Leg(account.pk, from_balance + from_card)] + [
            Leg(system_account_get_or_create(kind=kind, currency=order.currency).pk, -part)
            for kind, part in sources
            if part
        ]
        transfer = transfer_create(
            idempotency_key=f"refund:{idempotency_key}",
            kind=Transfer.Kind.REFUND,
            reference=reference,
            description=description,
            legs=legs,
            created_by=by,
        ).transfer
        return transfer, None
    transfer = card_transfer = None
    if from_balance:
        transfer = wallet_spend_return(
            transfer=order.balance_transfer,
            amount=from_balance,
            idempotency_key=f"refund:{idempotency_key}",
            description=description,
            reference=reference,
        ).transfer
    if from_card:
        card_refunds = system_account_get_or_create(
            kind=Account.Kind.CARD_REFUNDS, currency=order.currency
        )
        card_transfer = transfer_create(
            idempotency_key=f"refund-card:{idempotency_key}",
            kind=Transfer.Kind.REFUND,
            reference=reference,
            description=description,
            legs=[Leg(account.pk, from_card), Leg(card_refunds.pk, -from_card)],
            created_by=by,
        ).transfer
    return transfer, card_transfer


def order_cancel(*, order_id: int, reason: str, idempotency_key: str, by) -> Refund:
    """Cancel an order that has not shipped: everything still paid goes back per source (the
    card part to the card, the balance part to the balance, its promotional credit to the
    lots with their old expiry), every unit is marked returned, the order is `cancelled` and
    its promotions' uses are given back (PROMOTION_RELEASE_ON_REFUND).

    Locks the order, then promotion usage, credit lots and wallet accounts (docs/ledger.md).
    Audited as a refund (`order_refunded`, "cancelled"); refusals as `refused`. Idempotent on
    `idempotency_key` (a replay returns the cancellation's refund). Raises `RefundRefused`:
    no permission, the actor's own order, an order shipped, delivered, refunded, cancelled
    or whose payment failed or is not captured yet, no reason.
    """
    try:
        if by is None or not by.has_perm("checkout.refund_order"):
            raise RefundRefused("You need the permission to refund orders.")
        if not reason.strip():
            raise RefundRefused("Say why the order is cancelled.")
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _cancel_replay(existing, order_id=order_id)
        with transaction.atomic():
            order = refund_order_lock(order_id=order_id, by=by)
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _cancel_replay(existing, order_id=order_id)
            refund_order_check(order=order, by=by)
            if (
                order.status not in (Order.Status.PLACED, Order.Status.PARTIALLY_REFUNDED)
                or order.shipped_at is not None
                or order.delivered_at is not None
            ):
                raise RefundRefused(
                    f"An order {order.get_status_display().lower()} cannot be cancelled: "
                    "refund it instead."
                )
            lines = list(order.lines.all())
            units = {str(line.pk): line.quantity - line.refunded_quantity for line in lines}
            units = {line_id: n for line_id, n in units.items() if n}
            for line in lines:
                if line.refunded_quantity != line.quantity:
                    OrderLine.objects.filter(pk=line.pk).update(refunded_quantity=line.quantity)
            return refund_record(
                order=order,
                from_balance=order.balance_applied - order.balance_refunded,
                from_card=order.card_charged - order.card_refunded,
                card_to_balance=False,
                reason=reason,
                idempotency_key=idempotency_key,
                by=by,
                units=units,
                cancel=True,
            )
    except RefundRefused as refusal:
        audit_refusal_record(
            actor=by if by is not None and by.is_authenticated else None,
            target=f"cancellation of order #{order_id}",
            detail=str(refusal),
        )
        raise


def _cancel_replay(existing: Refund, *, order_id: int) -> Refund:
    if existing.order_id != order_id or existing.order.status != Order.Status.CANCELLED:
        raise RefundRefused(
            "This form was already used for another refund. Open the order again.",
            reason="conflict",
        )
    return existing


def _card_refund(refund_id: int) -> None:
    """After commit: send the card part back through the provider and record its answer.

    A provider failure must not undo a refund that is already on the order; it is logged and
    the refund is marked `failed` (empty `provider_reference`), which staff see in the admin
    and can retry at the provider (same idempotency key, so never twice). Never raises.
    """
    refund = Refund.objects.select_related("order__payment").get(pk=refund_id)
    payment = refund.order.payment
    try:
        reference = payment_provider_get().refund(
            reference=payment.reference,
            amount=refund.from_card,
            currency=payment.currency,
            idempotency_key=f"refund:{refund.idempotency_key}",
        )
    except Exception:
        logger.exception("card refund of refund #%s failed at the provider", refund.pk)
        Refund.objects.filter(pk=refund.pk).update(card_status=Refund.CardStatus.FAILED)
        return
    Refund.objects.filter(pk=refund.pk).update(
        provider_reference=reference, card_status=Refund.CardStatus.SENT
    )
    refunded = refund.order.card_refunded
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.REFUNDED
        if refunded >= payment.amount
        else Payment.Status.PARTLY_REFUNDED
    )


def _money(minor: int, order) -> str:
    """An amount of the order for the audit log: money, never raw minor units."""
    return format_money(minor, currency=order.currency)
