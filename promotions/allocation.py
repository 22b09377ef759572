"""Splitting a discount across lines and units: the one rule (docs/promotions.md).

Largest remainder (Hamilton's method) on integer minor units:

1. each part gets `floor(amount * weight / total_weight)`;
2. the units still missing (fewer than the number of parts) go one each to the parts with the
   largest remainder `amount * weight mod total_weight`, ties to the lower index.

Invariants, for every currency (JPY has no minor unit: the same integers, in yen):

- the parts sum to `amount` exactly;
- no part is below zero;
- when `amount <= sum(weights)`, no part is above its weight (a unit is never discounted below
  zero): a part only gets its extra unit when its exact share is not whole, so its floor is
  below its weight;
- a zero weight gets zero;
- the same input gives the same output (no floats, no hash order).
"""

from collections.abc import Mapping, Sequence


class AllocationError(ValueError):
    """An amount that cannot be split over these weights (negative, or nothing to carry it)."""


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` over `weights` by largest remainder, ties to the lower index."""
    if amount < 0:
        raise AllocationError(f"Cannot allocate a negative amount ({amount}).")
    if any(weight < 0 for weight in weights):
        raise AllocationError("Weights must not be negative.")
    total = sum(weights)
    if total == 0:
        if amount:
            raise AllocationError(f"Nothing carries {amount}: every weight is zero.")
        return [0] * len(weights)
    parts = []
    remainders = []
    for index, weight in enumerate(weights):
        share, remainder = divmod(amount * weight, total)
        parts.append(share)
        if remainder:
            remainders.append((-remainder, index))
    missing = amount - sum(parts)
    # `missing` < number of non-zero remainders: each remainder is < total, their sum is
    # missing * total.
    remainders.sort()
    for _, index in remainders[:missing]:
        parts[index] += 1
    return parts


def allocate_units(amount: int, units: Mapping[int, Sequence[int]]) -> dict[int, tuple[int, ...]]:
    """Split `amount` over every unit of every line, weighted by each unit's value.

    `units` maps a line key to the value of each of its units (what is left of its price),
    in line order; the result maps the same keys to each unit's part. Units are numbered line
    after line, unit after unit, for the tie-break. Refuses an amount above the total value:
    no unit may go below zero.
    """
    keys = list(units)
    flat = [value for key in keys for value in units[key]]
    if amount > sum(flat):
        raise AllocationError(f"{amount} is more than the {sum(flat)} it would be taken from.")
    parts = allocate(amount, flat)
    result = {}
    start = 0
    for key in keys:
        count = len(units[key])
        result[key] = tuple(parts[start : start + count])
        start += count
    return result
