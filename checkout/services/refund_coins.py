"""Refunds and coins (docs/points.md, "Refunds"): what coins paid goes back as coins, and a
refunded coin pack takes its coins back.

- **Coins paid for digital lines.** Each line stores what coins paid of it (`OrderLine.coins`).
  A refund of its units returns the line's coins share first: `coins * units back // quantity`,
  rounded down and counted cumulatively per line (each refund returns `share(after) -
  share(before)`), so the refunds of every unit of a line return exactly its coins, whatever
  the steps. What the units paid beyond their coins share goes to the card, then the balance,
  as before. A refund by amounts names its coins part itself (`from_coins`), never above what
  is left of it; a cancellation returns all of it. Returned coins are `coins_return`, keyed
  `refund-coins:<refund key>`.
- **Coin packs** were paid by card only and never discounted: the card part keeps what the
  packs still standing paid (as it does for gift cards), a refund of other lines never takes
  from it, and a refund that covers a pack (its line by units, everything left of the order,
  a cancellation) takes the pack's coins back (`coins_take_back`, key `refund-pack:<refund
  key>`) after any coins it returns. A shopper who already spent them holds too few: the
  whole refund is refused (`coins_spent`) and nothing is written.

Locks: the order (the caller's), then the coin accounts in the ledger, after the money
accounts (docs/ledger.md's lock order; the refund's money transfers come first).
"""

from checkout.exceptions import RefundRefused
from checkout.models import Order, OrderLine
from checkout.services.coin_orders import order_coins_take_back
from wallet.services import coins_return
from wallet.units import coins_for_value, format_coins


def coins_left(order: Order) -> int:
    """What of the order's coins part is still to refund (minor units)."""
    return order.coins_applied - order.coins_refunded


def _cumulative(total: int, line: OrderLine, count: int) -> int:
    """This refund's part of `total` (a line's coins, or its pack's coins) for `count` more
    units: total * units back // quantity, counted from the units already back, so the
    parts of all the line's units sum to `total` exactly."""
    back = line.refunded_quantity
    return total * (back + count) // line.quantity - total * back // line.quantity


def line_coins_share(line: OrderLine, *, count: int) -> int:
    """What coins paid of `count` more units of `line` coming back (minor units)."""
    return _cumulative(line.coins, line, count) if line.coins else 0


def pack_coins_back(line: OrderLine, *, count: int) -> int:
    """The coins `count` more refunded units of a coin pack line take back."""
    return _cumulative(line.pack_coins, line, count) if line.pack_coins else 0


def pack_lines(lines) -> dict[str, OrderLine]:
    """The coin pack lines of `lines` (an order's), by line id as a refund's units."""
    return {str(line.pk): line for line in lines if line.pack_coins}


def packs_reserved(lines) -> int:
    """What the coin packs still standing paid (by card, never discounted): the card part
    kept for them."""
    return sum(
        line.unit_price * (line.quantity - line.refunded_quantity)
        for line in pack_lines(lines).values()
    )


def packs_for_amounts(
    *, order: Order, lines, from_balance: int, from_card: int, from_coins: int, reserved: int
) -> dict[str, int]:
    """Which coin pack units a refund by amounts covers ({line id: units}): none while it
    stays within the card part the other lines paid (`reserved`: what the gift cards still
    standing keep); every pack unit left when it refunds everything left of the order;
    anything between is refused (which pack would it be?) with the way to do it."""
    packs = packs_reserved(lines)
    if not packs or from_card <= order.card_left - reserved - packs:
        return {}
    everything = (
        order.balance_applied - order.balance_refunded,
        order.card_left,
        coins_left(order),
    )
    if (from_balance, from_card, from_coins) != everything:
        raise RefundRefused(
            "Part of this order's card payment paid for coin packs: refund a pack by its line "
            "(Refund units), or refund everything that is left of the order.",
            reason="coin_pack_by_line",
        )
    return {
        line_id: line.quantity - line.refunded_quantity
        for line_id, line in pack_lines(lines).items()
        if line.quantity > line.refunded_quantity
    }


def packs_coins_for_units(lines: dict[str, OrderLine], units: dict[str, int]) -> int:
    """The coins that refunding `units` of the pack lines among `lines` takes back (read
    before the lines' refunded quantities move)."""
    return sum(
        pack_coins_back(lines[line_id], count=count)
        for line_id, count in units.items()
        if line_id in lines and lines[line_id].pack_coins
    )


def refund_coins_post(
    *, order: Order, from_coins: int, pack_coins: int, idempotency_key: str, by
) -> tuple:
    """The refund's coins, under the order lock the caller holds: (the `coins_return` of
    `from_coins` worth of coins, the `coins_take_back` of `pack_coins` refunded pack coins),
    each None when nothing moves. Returns first, so coins the same refund gives back can pay
    for a pack it takes back. Raises `RefundRefused` (`coins_spent`) when the shopper holds
    fewer coins than the packs take back (the caller's transaction rolls back whole)."""
    returned = taken = None
    coins = coins_for_value(value=from_coins, currency=order.currency)
    if coins:
        returned = coins_return(
            user=order.user,
            coins=coins,
            idempotency_key=f"refund-coins:{idempotency_key}",
            description=f"Refund of order {order.number}",
            reference=f"order:{order.number}",
        ).transfer
    if pack_coins:
        taken = order_coins_take_back(
            order=order, coins=pack_coins, idempotency_key=idempotency_key, by=by
        )
    return returned, taken


def coins_audit_part(*, order: Order, from_coins: int, pack_coins: int) -> str:
    """The audit entry's words for the coins of a refund ("" when none moved)."""
    parts = []
    if from_coins:
        coins = coins_for_value(value=from_coins, currency=order.currency)
        parts.append(f"{format_coins(coins)} of the coins part back as coins")
    if pack_coins:
        parts.append(f"{format_coins(pack_coins)} of refunded coin packs taken back")
    return "; " + " and ".join(parts) if parts else ""
