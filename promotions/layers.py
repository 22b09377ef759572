"""Pricing one combination of promotions, layer by layer (docs/promotions.md).

1. Line layer: percent / fixed off target items and buy X get Y, in promotion-id order, each on
   what the ones before it left of each unit.
2. Order layer: at most one percent / fixed off the order, on what the line layer left.
3. Shipping: the standard method's free-from threshold is judged on the item subtotal after
   1 and 2; then at most one shipping promotion (free standard shipping) on that price.

Every discount is capped (`cap`), trimmed to the budget left (`budget_left`), never more than
what it targets, and split over units by `promotions.allocation.allocate_units`, so no unit
goes below zero and the parts sum to the discount.

`Pricer` remembers the line layer of every prefix it has priced: the search prices many
combinations that share their line promotions.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from promotions.allocation import allocate_units
from promotions.engine import LineInput, PromotionSpec, ShippingInput
from promotions.rules import LINE, ORDER, SHIPPING, is_eligible, layer_of

Units = dict[int, tuple[int, ...]]  # line key -> value (or discount) of each unit


@dataclass(frozen=True)
class Part:
    """What one promotion gives in one combination."""

    amount: int
    units: Units  # lines it touched -> discount of each unit
    shipping_amount: int = 0


@dataclass(frozen=True)
class Priced:
    ids: tuple[int, ...]
    parts: dict[int, Part]
    items_discount: int
    shipping: int  # price after the free-from threshold, before the shipping promotion
    shipping_discount: int
    remaining: Units  # what is left of each unit

    @property
    def discount(self) -> int:
        return self.items_discount + self.shipping_discount


def _percent(percent: int, base: int) -> int:
    # Half up, in integers: 10% of 4.55 is 0.46 (0.455 rounds up).
    return (percent * base + 50) // 100


def _limit(spec: PromotionSpec, amount: int) -> int:
    if spec.cap is not None:
        amount = min(amount, spec.cap)
    if spec.budget_left is not None:
        amount = min(amount, spec.budget_left)  # the budget trims the last use
    return max(amount, 0)


def _take(spec: PromotionSpec, target: Units) -> int:
    """The discount of a percent / fixed promotion on the units of `target`."""
    base = sum(sum(values) for values in target.values())
    if spec.kind == "fixed":
        amount = min(spec.amount_off or 0, base)
    else:
        amount = _percent(spec.percent or 0, base)
    return min(_limit(spec, amount), base)


def _cheapest(spec: PromotionSpec, target: Units, order: dict[int, int]) -> Units:
    """Buy X get Y: the units that come at `percent` off. Of the eligible units, one group of
    buy + get at a time, the `get` cheapest of all are discounted (ties: earlier line, earlier
    unit first) — a merchant's "the cheapest items are free"."""
    group = (spec.buy_quantity or 0) + (spec.get_quantity or 0)
    units = [
        (value, order[key], index, key)
        for key, values in target.items()
        for index, value in enumerate(values)
    ]
    count = (len(units) // group) * (spec.get_quantity or 0) if group else 0
    chosen = sorted(units)[:count]
    weights = {key: [0] * len(values) for key, values in target.items()}
    for value, _, index, key in chosen:
        weights[key][index] = value
    return {key: tuple(values) for key, values in weights.items()}


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
        self.order = {line.key: position for position, line in enumerate(self.lines)}
        self.subtotal = sum(line.quantity * line.unit_price for line in self.lines)
        self.start: Units = {line.key: (line.unit_price,) * line.quantity for line in self.lines}
        self.eligible = {
            spec_id: frozenset(line.key for line in self.lines if is_eligible(spec, line))
            for spec_id, spec in specs.items()
        }
        self.layer = {spec_id: layer_of(spec) for spec_id, spec in specs.items()}
        self._line_cache: dict[tuple[int, ...], tuple[Units, dict[int, Part]]] = {
            (): (self.start, {})
        }
        self._cache: dict[tuple[int, ...], Priced] = {}

    # --- layers

    def _apply(self, spec_id: int, remaining: Units) -> tuple[Units, Part]:
        spec = self.specs[spec_id]
        keys = self.eligible[spec_id]
        target = {key: values for key, values in remaining.items() if key in keys}
        if spec.kind == "buy_x_get_y":
            target = _cheapest(spec, target, self.order)
            base = sum(sum(values) for values in target.values())
            amount = min(_limit(spec, _percent(spec.percent or 100, base)), base)
        else:
            amount = _take(spec, target)
        split = allocate_units(amount, target) if target else {}
        after = dict(remaining)
        for key, parts in split.items():
            pairs = zip(remaining[key], parts, strict=True)
            after[key] = tuple(value - part for value, part in pairs)
        touched = {key: parts for key, parts in split.items() if any(parts)}
        return after, Part(amount=amount, units=touched)

    def _line_layer(self, ids: tuple[int, ...]) -> tuple[Units, dict[int, Part]]:
        cached = self._line_cache.get(ids)
        if cached is None:
            remaining, parts = self._line_layer(ids[:-1])
            remaining, part = self._apply(ids[-1], remaining)
            cached = (remaining, {**parts, ids[-1]: part})
            self._line_cache[ids] = cached
        return cached

    def shipping_price(self, items_after: int) -> int:
        """The chosen method's rate after its free-from threshold (judged after discounts)."""
        shipping = self.shipping_input
        if shipping is None:
            return 0
        free_from = shipping.free_from if shipping.method == "standard" else None
        if free_from is not None and items_after >= free_from:
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
        remaining, line_parts = self._line_layer(line_ids)
        parts = dict(line_parts)
        for spec_id in key:
            if self.layer[spec_id] == ORDER:
                remaining, parts[spec_id] = self._apply(spec_id, remaining)
        items_discount = sum(part.amount for part in parts.values())
        shipping = self.shipping_price(self.subtotal - items_discount)
        shipping_discount = 0
        for spec_id in key:
            if self.layer[spec_id] == SHIPPING:
                spec = self.specs[spec_id]
                amount = 0
                if self.shipping_applies(spec_id):
                    if spec.kind == "free_shipping":
                        amount = min(_limit(spec, shipping), shipping)
                    else:
                        amount = _take(spec, {0: (shipping,)})
                parts[spec_id] = Part(amount=amount, units={}, shipping_amount=amount)
                shipping_discount += amount
        priced = Priced(
            ids=key,
            parts=parts,
            items_discount=items_discount,
            shipping=shipping,
            shipping_discount=shipping_discount,
            remaining=remaining,
        )
        self._cache[key] = priced
        return priced

    def unit_totals(self, priced: Priced) -> Units:
        """Every line's per-unit discount, all promotions together."""
        totals = {}
        for key, start in self.start.items():
            pairs = zip(start, priced.remaining[key], strict=True)
            totals[key] = tuple(value - left for value, left in pairs)
        return totals
