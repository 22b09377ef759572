"""Pricing: from cart lines to what the shopper pays, in one place.

    subtotal   = Σ unit price x quantity            (the region's prices, minor units)
    discount   = Σ discounts, never above subtotal  (promotions plug in here, issue #4 leaves
                                                     the list empty)
    total      = subtotal - discount
    balance    = min(wallet balance, total) when the shopper keeps "use my balance" on
    amount due = total - balance                    (charged to the card)

Pure functions over plain values: no database, so every page and the order service price
the same way.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PricedLine:
    product_id: int
    slug: str
    name: str
    quantity: int
    unit_price: int | None  # None: not sold in this region

    @property
    def total(self) -> int:
        return (self.unit_price or 0) * self.quantity


@dataclass(frozen=True)
class Discount:
    """A reduction of the order (a promotional code, later). `amount` in minor units."""

    label: str
    amount: int


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: list[PricedLine]
    subtotal: int
    discount: int
    total: int
    balance_available: int
    use_balance: bool
    balance_applied: int
    amount_due: int
    discounts: list[Discount] = field(default_factory=list)

    @property
    def unavailable(self) -> list[PricedLine]:
        return [line for line in self.lines if line.unit_price is None]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def quote_build(
    *,
    currency: str,
    lines: Sequence[PricedLine],
    balance: int,
    use_balance: bool,
    discounts: Sequence[Discount] = (),
) -> Quote:
    """Price `lines` and split the total between the balance and the card (see the module)."""
    subtotal = sum(line.total for line in lines)
    discount = min(sum(d.amount for d in discounts), subtotal)
    total = subtotal - discount
    balance_applied = min(max(balance, 0), total) if use_balance else 0
    return Quote(
        currency=currency,
        lines=list(lines),
        subtotal=subtotal,
        discount=discount,
        total=total,
        balance_available=balance,
        use_balance=use_balance,
        balance_applied=balance_applied,
        amount_due=total - balance_applied,
        discounts=list(discounts),
    )
