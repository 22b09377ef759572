"""Pricing one combination of promotions, layer by layer (docs/promotions.md).

1. Line layer: percent / fixed off target items and buy X get Y, in promotion-id order, each on
   what the ones before it left of each unit.
2. Order layer: at most one percent / fixed off the order, on what the line layer left.
3. Shipping: the standard method's free-from threshold is judged on the item subtotal
   *before* promotions (so a discount can never cost the shopper their free shipping, and the
   largest discount is also the lowest total); then at most one shipping promotion (free
   standard shipping) on that price.

Every discount is capped (`cap`), trimmed to the budget left (`budget_left`), never more than
what it targets, and split over units by `promotions.allocation.allocate_units`, so no unit
goes below zero and the parts sum to the discount.

`Pricer` keeps the units of the cart as one flat tuple (line after line, unit after unit) and
remembers the line layer of every prefix it has priced: the search prices many combinations
that share their line promotions.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from promotions.allocation import allocate
from promotions.engine import LineInput, PromotionSpec, ShippingInput
from promotions.rules import LINE, ORDER, SHIPPING, is_eligible, layer_of

Units = dict[int, tuple[int, ...]]  # line key -> value (or discount) of each unit


@dataclass(frozen=True)
class Part:
    """What one promotion gives in one combination: `amount`, split as `parts` over the flat
    units `units` (indices into the cart's units)."""

    amount: int
    units: tuple[int, ...] = ()
    parts: tuple[int, ...] = ()
    shipping_amount: int = 0


@dataclass(frozen=True)
class Priced:
    ids: tuple[int, ...]
    parts: dict[int, Part]
    line_discount: int
    items_discount: int
    shipping: int  # price after the free-from threshold, before the shipping promotion
    shipping_discount: int
    remaining: tuple[int, ...]  # what is left of each unit

    @property
    def discount(self) -> int:
        return self.items_discount + self.shipping_discount


def _percent(percent: int, base: int) -> int:
    # Half up, in integers: 10% of 4.55 is 0.46 (0.455 rounds up).
    return (percent * base + 50) // 100


def _limit(spec: PromotionSpec, amount: int, base: int) -> int:
    """Capped, trimmed to the budget left (the last use), never more than its target."""
    if spec.cap is not None and amount > spec.cap:
        amount = spec.cap
    if spec.budget_left is not None and amount > spec.budget_left:
        amount = spec.budget_left
    return max(min(amount, base), 0)


def _amount(spec: PromotionSpec, base: int) -> int:
    """The discount of a percent / fixed promotion on `base`."""
    if spec.kind == "fixed":
        return _limit(spec, spec.amount_off or 0, base)
    return _limit(spec, _percent(spec.percent or 0, base), base)


def _cheapest(spec: PromotionSpec, values: list[int]) -> list[int]:
    """Buy X get Y: the weights of the units that come at `percent` off. For each full group
    of buy + get eligible units, the `get` cheapest of all are discounted (ties: the earlier
    unit, line after line) — a merchant's "the cheapest items are free"."""
    group = (spec.buy_quantity or 0) + (spec.get_quantity or 0)
    count = (len(values) // group) * (spec.get_quantity or 0) if group else 0
    weights = [0] * len(values)
    for position in sorted(range(len(values)), key=lambda j: (values[j], j))[:count]:
        weights[position] = values[position]
    return weights


class Pricer:
    """Prices combinations of the given candidate promotions for one cart."""

    def __init__(
        self,
        *,
        lines: Sequence[LineInput],
        shipping: ShippingInput | None,
        specs: dict[int, PromotionSpec],
    ):
        self.lines = [line for line in lines if line.quantity > 0]
        self.shipping_input = shipping
        self.specs = specs
        self.start: tuple[int, ...] = tuple(
            line.unit_price for line in self.lines for _ in range(line.quantity)
        )
        self.subtotal = sum(self.start)
        self.slices: dict[int, range] = {}  # line key -> its units
        first = 0
        for line in self.lines:
            self.slices[line.key] = range(first, first + line.quantity)
            first += line.quantity
        every = tuple(range(len(self.start)))
        self.eligible = {
            spec_id: (
                every
                if spec.target != "items"
                else tuple(
                    i
                    for line in self.lines
                    if is_eligible(spec, line)
                    for i in self.slices[line.key]
                )
            )
            for spec_id, spec in specs.items()
        }
        self.layer = {spec_id: layer_of(spec) for spec_id, spec in specs.items()}
        self._line_cache: dict[tuple[int, ...], tuple[tuple[int, ...], dict[int, Part], int]] = {
            (): (self.start, {}, 0)
        }
        self._cache: dict[tuple[int, ...], Priced] = {}

    # --- layers

    def _apply(self, spec_id: int, remaining: tuple[int, ...]) -> tuple[tuple[int, ...], Part]:
        spec = self.specs[spec_id]
        units = self.eligible[spec_id]
        values = [remaining[i] for i in units]
        if spec.kind == "buy_x_get_y":
            values = _cheapest(spec, values)
            base = sum(values)
            amount = _limit(spec, _percent(spec.percent or 100, base), base)
        else:
            base = sum(values)
            amount = _amount(spec, base)
        if amount == 0:
            return remaining, Part(amount=0)
        parts = values if amount == base else allocate(amount, values)
        after = list(remaining)
        for i, part in zip(units, parts, strict=True):
            after[i] -= part
        return tuple(after), Part(amount=amount, units=units, parts=tuple(parts))

    def line_layer(self, ids: tuple[int, ...]) -> tuple[tuple[int, ...], dict[int, Part], int]:
        """What the line promotions `ids` (in id order) leave of each unit, their parts and
        their total."""
        cached = self._line_cache.get(ids)
        if cached is None:
            remaining, parts, total = self.line_layer(ids[:-1])
            remaining, part = self._apply(ids[-1], remaining)
            cached = (remaining, {**parts, ids[-1]: part}, total + part.amount)
            self._line_cache[ids] = cached
        return cached

    def shipping_price(self) -> int:
        """The chosen method's rate after its free-from threshold, judged on the items'
        price before promotions: the same for every combination."""
        shipping = self.shipping_input
        if shipping is None:
            return 0
        free_from = shipping.free_from if shipping.method == "standard" else None
        if free_from is not None and self.subtotal >= free_from:
            return 0
        return shipping.amount

    def shipping_applies(self, spec_id: int) -> bool:
        """A shipping promotion needs something shipped, and free shipping the standard method."""
        shipping = self.shipping_input
        if shipping is None:
            return False
        return self.specs[spec_id].kind != "free_shipping" or shipping.method == "standard"

    def price(self, ids) -> Priced:
        """Price one combination (at most one order and one shipping promotion: the caller
        keeps to the stacking table)."""
        key = tuple(sorted(ids))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        line_ids = tuple(i for i in key if self.layer[i] == LINE)
        remaining, line_parts, line_discount = self.line_layer(line_ids)
        parts = dict(line_parts)
        for spec_id in key:
            if self.layer[spec_id] == ORDER:
                remaining, parts[spec_id] = self._apply(spec_id, remaining)
        items_discount = sum(part.amount for part in parts.values())
        shipping = self.shipping_price()
        shipping_discount = 0
        for spec_id in key:
            if self.layer[spec_id] == SHIPPING:
                spec = self.specs[spec_id]
                amount = 0
                if self.shipping_applies(spec_id):
                    if spec.kind == "free_shipping":
                        amount = _limit(spec, shipping, shipping)
                    else:
                        amount = _amount(spec, shipping)
                parts[spec_id] = Part(amount=amount, shipping_amount=amount)
                shipping_discount += amount
        priced = Priced(
            ids=key,
            parts=parts,
            line_discount=line_discount,
            items_discount=items_discount,
            shipping=shipping,
            shipping_discount=shipping_discount,
            remaining=remaining,
        )
        self._cache[key] = priced
        return priced

    # --- per line, for the answer

    def _by_line(self, flat) -> Units:
        return {key: tuple(flat[i] for i in units) for key, units in self.slices.items()}

    def part_units(self, part: Part) -> Units:
        """The lines a promotion touched -> the discount of each of their units."""
        flat = [0] * len(self.start)
        for i, value in zip(part.units, part.parts, strict=True):
            flat[i] = value
        return {key: values for key, values in self._by_line(flat).items() if any(values)}

    def unit_totals(self, priced: Priced) -> Units:
        """Every line's per-unit discount, all promotions together."""
        pairs = zip(self.start, priced.remaining, strict=True)
        return self._by_line([value - left for value, left in pairs])
