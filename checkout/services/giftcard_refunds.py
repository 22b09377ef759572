"""Refunds that cover bought gift cards (docs/giftcards.md, "Refunds").

A gift card line was paid by the card, never from the balance (docs/interface.md §12), so its
refund goes back to the card, always: the card part of an order keeps what its gift cards
still standing paid (`reserved`), and a refund of the other lines never takes from it. A
refund covering a gift card (its line by units, or everything left of the order, or a
cancellation) takes the card back first: `giftcard_refund` makes it `refunded` (redeeming it
answers `disabled`) and reverses its liability; the bought card becomes `refunded`. A card the
recipient redeemed cannot be refunded: the whole refund is refused and nothing is written.
If the order's gift card bonus offer no longer holds, its promotional credit is taken back
(`order_bonus_claw_back`); what of it the buyer already spent is withheld from the card refund.

Locks, in the global order (docs/ledger.md): the order (the caller's), its bought gift cards
(here), promotion usage (the caller's release), the wallet gift cards (`giftcard_refund`),
then credit lots and wallet accounts (the bonus claw-back and the refund transfers).
"""

from dataclasses import dataclass, field

from checkout.exceptions import RefundRefused
from checkout.locks import ordergiftcard_qs_select_for_update
from checkout.models import Order, OrderGiftCard, OrderLine
from checkout.services.order_promotions import order_bonus_claw_back
from wallet.exceptions import InvalidState
from wallet.models import AuditEntry, GiftCard
from wallet.services import audit_record, giftcard_refund

# Neither refunded nor cancelled: the card part still holds what these paid.
GONE = (OrderGiftCard.Status.REFUNDED, OrderGiftCard.Status.CANCELLED)


@dataclass
class GiftCardsRefund:
    """An order's bought gift cards as a refund sees them: those still standing (locked, or
    read for a preview) and those this refund covers."""

    standing: list[OrderGiftCard]
    covered: list[OrderGiftCard] = field(default_factory=list)
    # Every gift card line of the order (standing or not), by line id as a refund's units.
    lines: set[str] = field(default_factory=set)

    @property
    def reserved(self) -> int:
        """What the standing gift cards paid: the card part kept for them."""
        return sum(gift.amount for gift in self.standing)

    @property
    def covered_total(self) -> int:
        return sum(gift.amount for gift in self.covered)

    @property
    def left_total(self) -> int:
        """What the gift cards still standing after this refund are worth."""
        return self.reserved - self.covered_total

    def by_line(self) -> dict[str, OrderGiftCard]:
        return {str(gift.line_id): gift for gift in self.standing}


def order_gift_cards_lock(*, order: Order) -> GiftCardsRefund:
    """The order's bought gift cards still standing, locked (after the order's lock, which the
    caller holds), each with its wallet card: nothing covers them yet."""
    gifts = ordergiftcard_qs_select_for_update(order_id=order.pk).select_related("card")
    return _of(list(gifts))


def order_gift_cards_read(*, order: Order) -> GiftCardsRefund:
    """As `order_gift_cards_lock`, unlocked: for a preview of a refund (a read)."""
    gifts = OrderGiftCard.objects.filter(order=order).select_related("card").order_by("pk")
    return _of(list(gifts))


def _of(gifts: list[OrderGiftCard]) -> GiftCardsRefund:
    return GiftCardsRefund(
        standing=[gift for gift in gifts if gift.status not in GONE],
        lines={str(gift.line_id) for gift in gifts},
    )


def gift_cards_check(gifts: list[OrderGiftCard], *, card_to_balance: bool) -> None:
    """Refuse a refund covering `gifts` when one of them cannot be refunded now. The wallet
    card's status read here is checked again under its own lock (`giftcard_refund`): a
    redemption that wins in between refuses the refund then, and it rolls back whole."""
    if gifts and card_to_balance:
        raise RefundRefused(
            "Gift cards were paid by card: their refund goes back to that card, not to the "
            "balance. Untick “to the balance”, or refund the gift cards on their own.",
            reason="giftcard_to_card",
        )
    for gift in gifts:
        if gift.card is None:
            # Paid, but the issue after the payment has not run yet (the sweep runs it).
            raise RefundRefused(
                f"The gift card for {gift.recipient_name} is not issued yet: try again in a "
                "few minutes.",
                reason="giftcard_not_issued",
            )
        if gift.card.status == GiftCard.Status.REDEEMED:
            raise RefundRefused(redeemed_message(gift), reason="giftcard_redeemed")


def redeemed_message(gift: OrderGiftCard) -> str:
    return (
        f"The gift card for {gift.recipient_name} was already redeemed by the recipient: it "
        "cannot be refunded. Nothing was refunded."
    )


def gift_cards_for_amounts(
    gifts: GiftCardsRefund,
    *,
    order: Order,
    from_balance: int,
    from_card: int,
    card_to_balance: bool,
) -> GiftCardsRefund:
    """Which gift cards a refund by amounts covers: none while it stays within the card part
    the other lines paid; all those standing when it refunds everything left of the order;
    anything in between is refused (which card would it be?) with the way to do it."""
    card_left = order.card_left
    balance_left = order.balance_applied - order.balance_refunded
    if from_card <= card_left - gifts.reserved:
        return gifts
    if (from_balance, from_card) != (balance_left, card_left):
        raise RefundRefused(
            "Part of this order's card payment paid for gift cards: refund a gift card by its "
            "line (Refund units), or refund everything that is left of the order.",
            reason="giftcard_by_line",
        )
    gift_cards_check(gifts.standing, card_to_balance=card_to_balance)
    gifts.covered = list(gifts.standing)
    return gifts


def order_gift_cards_refund(
    *, order: Order, gifts: GiftCardsRefund, idempotency_key: str, by
) -> int:
    """Refund the gift cards `gifts.covered` of `order` (the caller holds the order's and the
    bought cards' locks and has checked them): each wallet card `refunded` with its liability
    reversed, each bought card `refunded`, audited (`giftcard_refunded`); then the bonus
    offer's claw-back for the gift cards left. Returns what the buyer already spent of that
    bonus credit (the caller withholds it from the card refund).

    Raises `RefundRefused` (`giftcard_redeemed`) when a recipient redeemed a card after all;
    the caller's transaction then rolls back whole. Idempotent through the caller's key.
    """
    for gift in gifts.covered:
        try:
            card = giftcard_refund(
                card_id=gift.card_id,
                idempotency_key=f"refund-giftcard:{idempotency_key}:{gift.pk}",
                created_by=by,
            )
        except InvalidState:
            raise RefundRefused(redeemed_message(gift), reason="giftcard_redeemed") from None
        gift.status = OrderGiftCard.Status.REFUNDED
        gift.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditEntry.Action.GIFTCARD_REFUNDED,
            target=f"order {order.number} gift card #{gift.pk}",
            detail=f"gift card …{card.last4} for {gift.recipient_name} refunded to the buyer's "
            "card; it can no longer be redeemed",
        )
    # The bonus offer's credit goes back if the gift cards left no longer reach its minimum
    # (credit lots and wallet accounts come after the gift cards in the lock order).
    spent = order_bonus_claw_back(
        order=order,
        gift_card_total_left=gifts.left_total,
        idempotency_key=f"refund-bonus:{idempotency_key}",
    )
    return max(0, spent)


def gift_lines_mark_refunded(gifts: GiftCardsRefund) -> None:
    """The covered gift cards' lines count as returned (a refund by units did it already)."""
    OrderLine.objects.filter(
        pk__in=[gift.line_id for gift in gifts.covered], refunded_quantity=0
    ).update(refunded_quantity=1)
