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
from checkout.models import Order, OrderLine, Refund
from checkout.services.card_refunds import card_refund_send
from checkout.services.giftcard_refunds import (
    GiftCardsRefund,
    gift_cards_check,
    gift_cards_for_amounts,
    gift_lines_mark_refunded,
    order_gift_cards_lock,
    order_gift_cards_refund,
)
from checkout.services.order_points import order_points_refunded
from checkout.services.refund_checks import (
    refund_amounts_replay,
    refund_cancel_replay,
    refund_fully_refunded,
    refund_order_check,
    refund_order_lock,
)
from checkout.services.refund_coins import (
    coins_audit_part,
    coins_left,
    pack_lines,
    packs_coins_for_units,
    packs_for_amounts,
    refund_coins_post,
)
from checkout.services.refund_transfers import refund_transfers_post
from promotions.services import promotion_redemptions_release
from wallet.models import AuditEntry
from wallet.services import (
    audit_record,
    audit_refusal_record,
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
    from_coins: int = 0,
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

    `from_coins` (minor units) of the part coins paid goes back as coins; coin packs, like
    gift cards, keep their card part: reaching into it takes everything left and the packs'
    coins back (checkout/services/refund_coins.py; refused `coin_pack_by_line` otherwise, and
    `coins_spent` when the shopper already spent them).

    Bought gift cards (checkout/services/giftcard_refunds.py): the card part they paid is
    theirs; a refund by amounts that reaches into it must be all that is left of the order,
    and then refunds every gift card still standing too (to the card, never the balance). Also
    refused (`giftcard_*` reasons, nothing written): part of the gift cards' card part, a
    redeemed gift card, gift cards to the balance, a gift card not issued yet.
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
            from_coins=from_coins,
        )
    except RefundRefused as refusal:
        # After the refusal rolled the attempt back, in a transaction of its own.
        audit_refusal_record(
            actor=by if by is not None and by.is_authenticated else None,
            target=f"refund of order #{order_id}",
            detail=f"{refusal} (balance part {from_balance}, card part {from_card}, "
            f"coins part {from_coins})",
        )
        raise


def _order_refund(
    *, order_id, from_balance, from_card, card_to_balance, reason, idempotency_key, by, from_coins
) -> Refund:
    if by is None or not by.has_perm("checkout.refund_order"):
        raise RefundRefused("You need the permission to refund orders.")
    if min(from_balance, from_card, from_coins) < 0 or from_balance + from_card + from_coins == 0:
        raise RefundRefused("Refund a positive amount.")
    if not reason.strip():
        raise RefundRefused("Say why the order is refunded.")
    asked = {
        "order_id": order_id,
        "from_balance": from_balance,
        "from_card": from_card,
        "card_to_balance": card_to_balance,
        "from_coins": from_coins,
    }
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return refund_amounts_replay(existing, **asked)
    try:
        with transaction.atomic():
            order = refund_order_lock(order_id=order_id, by=by)
            # Again under the lock: a concurrent submit of this same refund may have committed
            # while we waited, and its replay must get that refund, not "more than is left".
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return refund_amounts_replay(existing, **asked)
            refund_order_check(order=order, by=by)
            if from_balance > order.balance_applied - order.balance_refunded:
                raise RefundRefused("That is more than is left to refund to the balance.")
            if from_card > order.card_left:
                raise RefundRefused("That is more than is left to refund to the card.")
            if from_coins > coins_left(order):
                raise RefundRefused("That is more than is left to refund of the coins part.")
            gifts = gift_cards_for_amounts(
                order_gift_cards_lock(order=order),
                order=order,
                from_balance=from_balance,
                from_card=from_card,
                card_to_balance=card_to_balance,
            )
            lines = list(order.lines.all())
            packs = packs_for_amounts(
                order=order,
                lines=lines,
                from_balance=from_balance,
                from_card=from_card,
                from_coins=from_coins,
                reserved=gifts.reserved,
            )
            refund = refund_record(
                order=order,
                from_balance=from_balance,
                from_card=from_card,
                card_to_balance=card_to_balance,
                reason=reason,
                idempotency_key=idempotency_key,
                by=by,
                gifts=gifts,
                from_coins=from_coins,
                packs=(pack_lines(lines), packs),
            )
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return refund_amounts_replay(existing, **asked)
    return refund


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
    gifts: GiftCardsRefund | None = None,
    from_coins: int = 0,
    packs: tuple[dict, dict] | None = None,
) -> Refund:
    """Post a refund the caller has checked, under the order lock it holds: the ledger
    movements, the order's refunded figures and status (`cancelled` for a cancellation), the
    refund row, the audit entry, the card refund and the e-mail after commit; a full refund
    or a cancellation gives the promotions' uses back (PROMOTION_RELEASE_ON_REFUND).

    `gifts`: the order's bought gift cards (locked by the caller) and those this refund
    covers (their part is in `from_card`): refunded here, after the promotions' release and
    before the money moves (docs/ledger.md); what the buyer spent of a bonus offer's credit
    that their refund takes back is withheld from the card part (and counted as kept back).

    `from_coins` goes back as coins; `packs` ({line id: pack line}, {line id: units this
    refund covers}) are the coin pack units whose coins it takes back (their lines marked
    returned here unless the caller did: `units` names them then). At the very end the
    order's points follow what it still pays (`order_points_refunded`).
    """
    covered = gifts.covered if gifts is not None else []
    pack_coins = 0
    if packs is not None and packs[1]:
        pack_coins = packs_coins_for_units(*packs)
        if not units:
            for line_id, count in packs[1].items():
                OrderLine.objects.filter(pk=int(line_id)).update(
                    refunded_quantity=packs[0][line_id].refunded_quantity + count
                )
            units = dict(packs[1])
    if covered:
        gift_lines_mark_refunded(gifts)
        # With the coin packs an amount refund covers, if any (named just above).
        units = {**{str(gift.line_id): 1 for gift in covered}, **(units or {})}
    if (
        refund_fully_refunded(order, adding=from_balance + from_card + from_coins)
        and settings.PROMOTION_RELEASE_ON_REFUND
    ):
        # Promotion usage comes after the order and before credit lots and wallet accounts
        # in the global lock order (docs/ledger.md): released before the money moves.
        promotion_redemptions_release(order_number=order.number)
    if covered:
        spent = order_gift_cards_refund(
            order=order, gifts=gifts, idempotency_key=idempotency_key, by=by
        )
        # Out of the gift cards' own card part only (never the other lines'), as far as it goes.
        # Withheld for good (the credit was spent): never refundable later either.
        withheld = min(spent, gifts.covered_total, from_card)
        from_card -= withheld
        clawed_back += withheld
        order.card_withheld += withheld
    to_card = bool(from_card and not card_to_balance)
    order.balance_refunded += from_balance
    order.card_refunded += from_card
    order.coins_refunded += from_coins
    order.status = (
        Order.Status.CANCELLED
        if cancel
        else Order.Status.REFUNDED
        if order.settled == order.total
        else Order.Status.PARTIALLY_REFUNDED
    )
    transfer, card_transfer = refund_transfers_post(
        order=order,
        from_balance=from_balance,
        from_card=from_card if card_to_balance else 0,
        idempotency_key=idempotency_key,
        by=by,
    )
    # The coins after the money accounts (docs/ledger.md's lock order).
    coins_returned, coins_taken = refund_coins_post(
        order=order,
        from_coins=from_coins,
        pack_coins=pack_coins,
        idempotency_key=idempotency_key,
        by=by,
    )
    order.save(
        update_fields=[
            "balance_refunded",
            "card_refunded",
            "card_withheld",
            "coins_refunded",
            "status",
        ]
    )
    refund = Refund.objects.create(
        order=order,
        from_balance=from_balance,
        from_card=from_card,
        from_coins=from_coins,
        coins_transfer=coins_returned or coins_taken,
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
        f"({'to the card' if to_card else 'to the balance'})"
        f"{coins_audit_part(order=order, from_coins=from_coins, pack_coins=pack_coins)}"
        f"{kept}: {refund.reason}",
    )
    if to_card:
        # After commit: the provider is an outside call, never made under the lock.
        transaction.on_commit(lambda: card_refund_send(refund_id=refund.pk), robust=True)
    # The shopper hears of it after commit (never the staff reason: it is internal).
    transaction.on_commit(lambda: order_refunded_mail_send(refund_id=refund.pk), robust=True)
    logger.info("order %s refunded: %s to balance", order.number, from_balance)
    # Last: the points follow what the order still pays, its lines and figures as refunded.
    order_points_refunded(order=order)
    return refund


def order_cancel(*, order_id: int, reason: str, idempotency_key: str, by) -> Refund:
    """Cancel an order that has not shipped: everything still paid goes back per source (the
    card part to the card, the balance part to the balance, its promotional credit to the
    lots with their old expiry, the coins part as coins, a coin pack's coins taken back),
    every unit is marked returned, the order is `cancelled` and
    its promotions' uses are given back (PROMOTION_RELEASE_ON_REFUND).

    Locks the order, then promotion usage, credit lots and wallet accounts (docs/ledger.md).
    Audited as a refund (`order_refunded`, "cancelled"); refusals as `refused`. Idempotent on
    `idempotency_key` (a replay returns the cancellation's refund). Raises `RefundRefused`:
    no permission, the actor's own order, an order shipped, delivered, refunded, cancelled
    or whose payment failed or is not captured yet, no reason, a bought gift card the
    recipient redeemed (its other gift cards are refunded with it otherwise).
    """
    try:
        if by is None or not by.has_perm("checkout.refund_order"):
            raise RefundRefused("You need the permission to refund orders.")
        if not reason.strip():
            raise RefundRefused("Say why the order is cancelled.")
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return refund_cancel_replay(existing, order_id=order_id)
        with transaction.atomic():
            order = refund_order_lock(order_id=order_id, by=by)
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return refund_cancel_replay(existing, order_id=order_id)
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
            gifts = order_gift_cards_lock(order=order)
            gift_cards_check(gifts.standing, card_to_balance=False)
            gifts.covered = list(gifts.standing)
            lines = list(order.lines.all())
            units = {str(line.pk): line.quantity - line.refunded_quantity for line in lines}
            units = {line_id: n for line_id, n in units.items() if n}
            packs = pack_lines(lines)
            packs = (packs, {line_id: n for line_id, n in units.items() if line_id in packs})
            for line in lines:
                if line.refunded_quantity != line.quantity:
                    OrderLine.objects.filter(pk=line.pk).update(refunded_quantity=line.quantity)
            return refund_record(
                order=order,
                from_balance=order.balance_applied - order.balance_refunded,
                from_card=order.card_left,
                card_to_balance=False,
                reason=reason,
                idempotency_key=idempotency_key,
                by=by,
                units=units,
                cancel=True,
                gifts=gifts,
                from_coins=coins_left(order),
                packs=packs,
            )
    except RefundRefused as refusal:
        audit_refusal_record(
            actor=by if by is not None and by.is_authenticated else None,
            target=f"cancellation of order #{order_id}",
            detail=str(refusal),
        )
        raise


def _money(minor: int, order) -> str:
    """An amount of the order for the audit log: money, never raw minor units."""
    return format_money(minor, currency=order.currency)
