"""The coins part of a quote (checkout/pricing.py): which digital lines the shopper's coins pay,
and what that leaves the balance to pay per category (docs/points.md).

Coins pay digital items only (never coin packs, gift cards or what ships), line by line in the
cart's order, each line at most its total after its discounts, in whole coins. Pure functions
over the quote's lines (`checkout.pricing.PricedLine`): no database.
"""

from collections.abc import Mapping, Sequence

from wallet.units import coins_for_value, coins_value


def coins_may_pay(line) -> bool:
    """Coins pay digital items only: never coin packs, gift cards or what ships."""
    return line.digital and not line.coin_pack and not line.is_gift_card


def coins_allocate(
    *,
    lines: Sequence,
    allocations: Mapping[int, Sequence[int]],
    coins: int,
    currency: str,
    limit: int,
) -> dict[int, int]:
    """What `coins` pay of each digital line (product id -> minor units of `currency`), line
    by line in the cart's order: each line at most its total less its units' discounts
    (`allocations`, the promotions engine's per-unit discounts), in whole coins only (a part
    of a coin is never spent), and all together at most `limit` minor units (what is not paid
    by card only). Lines coins do not pay are left out."""
    coins_left, room, paid = coins, max(limit, 0), {}
    for line in lines:
        if coins_left <= 0 or room <= 0:
            break
        if not coins_may_pay(line) or line.unit_price is None:
            continue
        left = min(line.total - sum(allocations.get(line.product_id, ())), room)
        used = min(coins_left, coins_for_value(value=max(left, 0), currency=currency))
        if used <= 0:
            continue
        value = coins_value(coins=used, currency=currency)
        paid[line.product_id] = value
        coins_left -= used
        room -= value
    return paid


def balance_payable_by_category(
    *,
    lines: Sequence,
    payable: Mapping[int | None, int],
    line_coins: Mapping[int, int],
) -> dict[int | None, int]:
    """`payable` (what is left to pay per category after discounts) less what the balance
    never pays: the coin packs (card only) and what coins already pay of each line, so a
    promotional credit lot restricted to a category never pays again what coins paid."""
    left = dict(payable)
    for line in lines:
        taken = line.total if line.coin_pack else line_coins.get(line.product_id, 0)
        if taken:
            left[line.category_id] = max(left.get(line.category_id, 0) - taken, 0)
    return left
