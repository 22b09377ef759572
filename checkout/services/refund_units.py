"""Refunding units of an order: what was actually paid for them, less the benefit of a
promotion the units kept no longer qualify for.

The rules (docs/promotions.md, "Refunds"):

- **What a unit paid.** Each order line stores the discount of each of its units
  (`OrderLine.unit_discounts`, all promotions together) and each promotion its own parts
  (`Order.promotions[…]["units"]`). A unit paid its price less its discount.
- **Which units come back.** Units of one product are alike, so the refund decides which of
  them a return stands for: the units that paid the most come back first (the smallest
  discount first, then the lower index). The units the shopper keeps carry the discounts, and
  the claw-back below judges whether those still qualify.
- **Claw-back.** The units kept are judged against each promotion used, on the figures stored
  when the order was placed (not on the promotion as staff may have changed it since): a
  minimum subtotal no longer met by the eligible units kept takes back that promotion's whole
  benefit on them; a buy-X-get-Y keeps `floor(eligible kept / (X + Y)) * Y` discounted units
  (the most discounted ones) and takes back the rest. Other promotions keep their parts. The
  shipping discount is never taken back (the parcel went on those terms), and nothing of the
  shipping is refunded here.
- **Capped at the refund.** A refund never goes below zero: what it takes back is at most what
  the returned units paid (the rest is forgiven). When units that carried a benefit already
  taken back are returned later, that claw-back is given back with them, so over all the
  refunds of an order the shopper gets back exactly what they paid for the units returned,
  less what the units kept should have cost.
- **Coins** (checkout/services/refund_coins.py). A digital line coins paid part of returns its
  coins share first (cumulative per line, exact over all its units), then the rest as below.
  A coin pack line, like a gift card line, was paid by card and never discounted: its units
  come back to the card in full and take their coins back (refused `coins_spent` when the
  shopper already spent them); the other lines never take the packs' card part.
- **Per source.** The amount goes back to the card first (up to what is left of the card
  part; to the balance instead when staff choose), then to the balance (its promotional
  credit to the lots with their old expiry: `wallet_spend_return`). Never more than is left
  of either source.
- A refund that returns every unit gives the promotions' uses back (PROMOTION_RELEASE_ON_REFUND).
- **Gift cards bought** (checkout/services/giftcard_refunds.py). A gift card line was paid by
  card and never discounted: its unit comes back to the card in full (less bonus credit
  already spent, when the bonus offer is taken back), and its card is refunded with it (a
  redeemed one refuses the whole refund). The other lines' card part is what the card paid
  beyond the gift cards still standing: they never take the gift cards' part.
"""

from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction

from checkout.exceptions import RefundRefused
from checkout.models import OrderLine, Refund
from checkout.services.giftcard_refunds import (
    gift_cards_check,
    order_gift_cards_lock,
    order_gift_cards_read,
)
from checkout.services.refund_checks import refund_order_check, refund_order_lock
from checkout.services.refund_coins import (
    coins_left,
    line_coins_share,
    pack_lines,
    packs_coins_for_units,
    packs_reserved,
)
from checkout.services.refunds import refund_record
from promotions.models import PromotionRedemption
from promotions.selectors import giftcard_bonus_withheld_estimate
from promotions.services import promotion_redemptions_claw_back
from wallet.services import audit_refusal_record

BUY_X_GET_Y = "buy_x_get_y"


def order_refund_units(
    *,
    order_id: int,
    units: dict[int, int],
    reason: str,
    idempotency_key: str,
    by,
    card_to_balance: bool = False,
) -> Refund:
    """Refund `units` ({order line id: how many units come back}) of an order: what those
    units paid, less the claw-back of a promotion the units kept no longer qualify for, split
    card first then balance (see the module). The claw-back is recorded on the refund and on
    each promotion's redemption.

    The order row is locked first (refunds of one order queue), then promotion usage, credit
    lots and wallet accounts (docs/ledger.md). Audited as `order_refunded` (refusals as
    `refused`). Idempotent on `idempotency_key`: a replay with the same order and units
    returns the first refund; with others it is refused as a conflict. Raises
    `RefundRefused`: no permission, the actor's own order, an order whose payment failed or is
    not captured yet, no units or more units than are left, no reason, a conflicting replay,
    and for gift card lines a redeemed card, a card not issued yet, the card part to the
    balance (`giftcard_*` reasons).
    """
    try:
        return _order_refund_units(
            order_id=order_id,
            units=units,
            reason=reason,
            idempotency_key=idempotency_key,
            by=by,
            card_to_balance=card_to_balance,
        )
    except RefundRefused as refusal:
        audit_refusal_record(
            actor=by if by is not None and by.is_authenticated else None,
            target=f"refund of order #{order_id}",
            detail=f"{refusal} (units {units})",
        )
        raise


def _replay(existing: Refund, *, order_id: int, units: dict[str, int]) -> Refund:
    if (existing.order_id, existing.units) != (order_id, units):
        raise RefundRefused(
            "This refund form was already used for another refund. Open the refund page "
            "again to make a new one.",
            reason="conflict",
        )
    return existing


def _order_refund_units(*, order_id, units, reason, idempotency_key, by, card_to_balance):
    if by is None or not by.has_perm("checkout.refund_order"):
        raise RefundRefused("You need the permission to refund orders.")
    if not reason.strip():
        raise RefundRefused("Say why the order is refunded.")
    try:
        asked = {str(int(line_id)): int(count) for line_id, count in units.items()}
    except (TypeError, ValueError):
        raise RefundRefused("Say how many units of which line come back.") from None
    if not asked or any(count <= 0 for count in asked.values()):
        raise RefundRefused("Say how many units of which line come back.")
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, order_id=order_id, units=asked)
    try:
        with transaction.atomic():
            order = refund_order_lock(order_id=order_id, by=by)
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, order_id=order_id, units=asked)
            refund_order_check(order=order, by=by)
            lines = {str(line.pk): line for line in order.lines.all()}
            gifts = order_gift_cards_lock(order=order)
            priced = _priced_checked(order, lines, asked, gifts)
            gift_cards_check(gifts.covered, card_to_balance=card_to_balance)
            claws = priced.claws
            for line_id, count in asked.items():
                OrderLine.objects.filter(pk=int(line_id)).update(
                    refunded_quantity=lines[line_id].refunded_quantity + count
                )
            promotion_redemptions_claw_back(order_number=order.number, amounts=claws)
            packs = pack_lines(lines.values())
            return refund_record(
                order=order,
                from_balance=priced.from_balance,
                from_card=priced.from_card,
                card_to_balance=card_to_balance,
                reason=reason,
                idempotency_key=idempotency_key,
                by=by,
                units=asked,
                clawed_back=priced.clawed_back,
                gifts=gifts,
                from_coins=priced.from_coins,
                # Read before the lines' refunded quantities moved (`lines` still has them).
                packs=(packs, {line_id: n for line_id, n in asked.items() if line_id in packs}),
            )
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, order_id=order_id, units=asked)


@dataclass(frozen=True)
class UnitsRefundPreview:
    """What a refund of units would return: the units' paid price (`gross`), less what is
    kept back (`clawed_back`, per promotion in `claws`), split card first then balance."""

    gross: int
    claws: dict[int, int]
    from_card: int
    from_balance: int
    # Of the gift cards' card part, the gift card bonus credit already spent that the refund
    # would withhold (the preview's estimate; the refund computes it under its locks).
    bonus_withheld: int = 0
    # What goes back as coins (minor units), and the coins refunded coin packs take back.
    from_coins: int = 0
    pack_coins: int = 0

    @property
    def clawed_back(self) -> int:
        return sum(self.claws.values())

    @property
    def amount(self) -> int:
        return self.from_card + self.from_balance + self.from_coins


def order_refund_units_preview(*, order, units: dict[int, int]) -> UnitsRefundPreview:
    """What `order_refund_units` would return for `units` of `order` now (a read: the staff
    confirmation step states it). Raises `RefundRefused` for units it would refuse."""
    try:
        asked = {str(int(line_id)): int(count) for line_id, count in units.items()}
    except (TypeError, ValueError):
        raise RefundRefused("Say how many units of which line come back.") from None
    asked = {line_id: count for line_id, count in asked.items() if count}
    if not asked or any(count < 0 for count in asked.values()):
        raise RefundRefused("Say how many units of which line come back.")
    lines = {str(line.pk): line for line in order.lines.all()}
    gifts = order_gift_cards_read(order=order)
    preview = _priced_checked(order, lines, asked, gifts)
    gift_cards_check(gifts.covered, card_to_balance=False)
    if not gifts.covered:
        return preview
    withheld = min(
        giftcard_bonus_withheld_estimate(
            order_number=order.number, gift_card_total_left=gifts.left_total
        ),
        gifts.covered_total,
        preview.from_card,
    )
    return replace(preview, from_card=preview.from_card - withheld, bonus_withheld=withheld)


def _priced_checked(order, lines: dict[str, OrderLine], asked: dict[str, int], gifts):
    """Check `asked` against what is left and price it. The gift card lines asked join
    `gifts.covered`: their price goes back to the card in full (they were paid by card and
    never discounted); the other lines' part goes to the card only as far as the card part
    exceeds what the gift cards still standing paid, the rest to the balance."""
    for line_id, count in asked.items():
        line = lines.get(line_id)
        if line is None:
            raise RefundRefused("That line is not part of this order.")
        if count > line.quantity - line.refunded_quantity:
            raise RefundRefused(
                f"Only {line.quantity - line.refunded_quantity} of "
                f"{line.product_name} are left to refund."
            )
    standing = gifts.by_line()
    gifts.covered = [standing[line_id] for line_id in asked if line_id in standing]
    for line_id in asked:
        if line_id not in standing and line_id in gifts.lines:
            raise RefundRefused(
                f"{lines[line_id].product_name} is not standing: it was refunded or its "
                "payment failed."
            )
    gift_part = gifts.covered_total
    gift_lines = {str(gift.line_id) for gift in gifts.covered}
    packs = pack_lines(lines.values())
    # Coin packs are never discounted and paid by card: their units back at their price.
    pack_part = sum(lines[i].unit_price * n for i, n in asked.items() if i in packs)
    others = {
        line_id: count
        for line_id, count in asked.items()
        if line_id not in gift_lines and line_id not in packs
    }
    # Promotions never look at gift card or coin pack lines (the bonus offer does, on its own).
    priced_lines = {
        line_id: line
        for line_id, line in lines.items()
        if line_id not in gifts.lines and line_id not in packs
    }
    gross, claws = _priced(order, priced_lines, others)
    amount = gross - sum(claws.values())
    # The coins share of the lines coins paid first, then the card, then the balance.
    from_coins = min(
        sum(line_coins_share(lines[i], count=n) for i, n in others.items()),
        amount,
        coins_left(order),
    )
    card_room = max(0, order.card_left - gifts.reserved - packs_reserved(lines.values()))
    from_card = min(amount - from_coins, card_room)
    from_balance = min(
        amount - from_coins - from_card, order.balance_applied - order.balance_refunded
    )
    return UnitsRefundPreview(
        gross=gross + gift_part + pack_part,
        claws=claws,
        from_card=from_card + gift_part + pack_part,
        from_balance=from_balance,
        from_coins=from_coins,
        pack_coins=packs_coins_for_units(packs, asked),
    )


def _return_order(line: OrderLine) -> list[int]:
    """The order in which a line's units come back: the ones that paid the most first."""
    discounts = _unit_discounts(line)
    return sorted(range(line.quantity), key=lambda index: (discounts[index], index))


def _unit_discounts(line: OrderLine) -> list[int]:
    # An order placed before units were stored has no discount on any unit.
    return list(line.unit_discounts) or [0] * line.quantity


def _priced(order, lines: dict[str, OrderLine], asked: dict[str, int]) -> tuple[int, dict]:
    """(what the returned units paid, {promotion id: claw-back change of this refund})."""
    gross = 0
    kept: dict[int, list[int]] = {}  # product id -> indices of the units kept after this refund
    for line_id, line in lines.items():
        order_of = _return_order(line)
        back = line.refunded_quantity
        now = asked.get(line_id, 0)
        discounts = _unit_discounts(line)
        gross += sum(line.unit_price - discounts[i] for i in order_of[back : back + now])
        kept.setdefault(line.product_id, []).extend(order_of[back + now :])
    prices = {line.product_id: line.unit_price for line in lines.values()}
    taken = dict(
        PromotionRedemption.objects.filter(
            order_number=order.number, released_at__isnull=True
        ).values_list("promotion_id", "clawed_back")
    )
    wanted = {}
    for promotion in order.promotions:
        pid = promotion["promotion_id"]
        if pid in taken:
            wanted[pid] = _not_qualifying(promotion, kept, prices) - taken[pid]
    # Claw-backs given back (units that carried them came back) always; new ones in promotion
    # order, each only as far as the refund still carries it.
    room = gross + sum(-change for change in wanted.values() if change < 0)
    claws = {}
    for pid, change in sorted(wanted.items()):
        if change < 0:
            claws[pid] = change
        elif change > 0:
            claws[pid] = min(change, room)
            room -= claws[pid]
    return gross, {pid: change for pid, change in claws.items() if change}


def _not_qualifying(promotion: dict, kept: dict[int, list[int]], prices: dict[int, int]) -> int:
    """How much of `promotion`'s benefit on the units kept they no longer qualify for."""
    parts = []  # this promotion's part on each unit kept
    for key, units in promotion.get("units", {}).items():
        for index in kept.get(int(key), []):
            if index < len(units):
                parts.append(units[index])
    eligible = set(promotion.get("eligible") or ())
    eligible_kept = [(pid, i) for pid, indices in kept.items() if pid in eligible for i in indices]
    minimum = promotion.get("minimum")
    if minimum and sum(prices[pid] for pid, _ in eligible_kept) < minimum:
        return sum(parts)
    buy, get = promotion.get("buy"), promotion.get("get")
    if promotion.get("kind") == BUY_X_GET_Y and buy and get:
        allowed = len(eligible_kept) // (buy + get) * get
        discounted = sorted((part for part in parts if part), reverse=True)
        return sum(discounted[allowed:])
    return 0
