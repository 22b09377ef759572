"""Pricing: from cart lines to what the shopper pays, in one place.

    subtotal   = Σ unit price x quantity            (the region's prices, minor units)
    shipping   = the chosen method's rate           (0 when nothing ships; standard is free
                                                     from the region's threshold)
    discount   = Σ discounts, never above subtotal + shipping
                                                    (promotions plug in here, and may discount
                                                     the shipping line; today the list is empty)
    total      = subtotal + shipping - discount
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
    digital: bool = False  # delivered at once; a cart of only these ships nothing

    @property
    def total(self) -> int:
        return (self.unit_price or 0) * self.quantity


@dataclass(frozen=True)
class Discount:
    """A reduction of the order (a promotional code, later). `amount` in minor units."""

    label: str
    amount: int


@dataclass(frozen=True)
class Rate:
    """A region's rate for one method, as stored (`ShippingRate`)."""

    method: str
    amount: int
    free_from: int | None = None
    delivery_days: str = ""


@dataclass(frozen=True)
class ShippingLine:
    """The shipping line of a quote: what the chosen method costs for this cart. `full_amount`
    is the rate before the free-shipping threshold, so a page can show "free (was …)"."""

    method: str
    amount: int
    full_amount: int
    free_from: int | None
    delivery_days: str

    @property
    def is_free(self) -> bool:
        return self.amount == 0


def shipping_line_build(*, rate: Rate, subtotal: int) -> ShippingLine:
    """Price one method for a cart of `subtotal`: its rate, or nothing from its threshold."""
    free = rate.free_from is not None and subtotal >= rate.free_from
    return ShippingLine(
        method=rate.method,
        amount=0 if free else rate.amount,
        full_amount=rate.amount,
        free_from=rate.free_from,
        delivery_days=rate.delivery_days,
    )


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
    # None when nothing in the cart ships (digital only, or empty).
    shipping_line: ShippingLine | None = None
    # Every method offered, priced for this cart (the chosen one is `shipping_line`).
    shipping_options: list[ShippingLine] = field(default_factory=list)

    @property
    def needs_shipping(self) -> bool:
        return any(not line.digital for line in self.lines)

    @property
    def shipping(self) -> int:
        return self.shipping_line.amount if self.shipping_line else 0

    @property
    def shipping_method(self) -> str:
        return self.shipping_line.method if self.shipping_line else ""

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
    rates: Sequence[Rate] = (),
    shipping_method: str = "standard",
) -> Quote:
    """Price `lines` and split the total between the balance and the card (see the module).
    `rates` are the region's shipping rates; a cart with a physical line ships by
    `shipping_method` (the first rate when that method is not offered)."""
    subtotal = sum(line.total for line in lines)
    options = []
    if any(not line.digital for line in lines):
        options = [shipping_line_build(rate=rate, subtotal=subtotal) for rate in rates]
    chosen = next((o for o in options if o.method == shipping_method), None)
    chosen = chosen or (options[0] if options else None)
    shipping = chosen.amount if chosen else 0
    discount = min(sum(d.amount for d in discounts), subtotal + shipping)
    total = subtotal + shipping - discount
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
        shipping_line=chosen,
        shipping_options=options,
    )
