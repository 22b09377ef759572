"""Which promotional credit pays for what: a pure planner (no database, no clock unless asked).

Rules (docs/ledger.md, "Promotional credit"):
- credit is spent before gift card money, soonest-expiring lot first, then the lower lot id;
- a lot restricted to categories pays only for those categories' payable amounts, shared with
  every other lot restricted to them (a category's payable amount is never paid twice);
- an expired lot never pays;
- the plan never pays more than `amount`; what credit does not pay is `.money`.

Greedy in that order is also what gives the same answer when the caller asks again for the
exact amount the first plan paid (checkout prices with the order total, then spends
`credit + money`): each lot's part depends only on the lots before it.
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.utils import timezone


@dataclass(frozen=True)
class CreditLotView:
    """A lot as the planner and the pages see it. `expires_at` (the instant its last day
    ends in the shopper's region) is what makes it expired; None: judged by the caller."""

    id: int
    remaining: int
    expires_on: datetime.date
    category_ids: frozenset[int] = frozenset()
    expires_at: datetime.datetime | None = None

    def expired(self, now: datetime.datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class CreditPart:
    lot_id: int
    amount: int


@dataclass(frozen=True)
class CreditPlan:
    amount: int
    parts: tuple[CreditPart, ...] = field(default_factory=tuple)

    @property
    def credit(self) -> int:
        return sum(part.amount for part in self.parts)

    @property
    def money(self) -> int:
        return self.amount - self.credit


def credit_plan(
    *,
    lots: Iterable[CreditLotView],
    amount: int,
    payable_by_category: Mapping[int | None, int],
    now: datetime.datetime | None = None,
) -> CreditPlan:
    """Which lots pay how much of `amount` (minor units).

    `payable_by_category` maps a category id (None: items without one, and shipping) to what
    the order still owes for it after discounts; only unrestricted lots pay for keys a lot
    does not name. Lots expired at `now` (default: the current time) are left out.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    now = now or timezone.now()
    # What each restricted category can still take; shared by every lot restricted to it.
    room = {key: max(0, value) for key, value in payable_by_category.items() if key is not None}
    left = amount
    parts = []
    usable = (lot for lot in lots if lot.remaining > 0 and not lot.expired(now))
    for lot in sorted(usable, key=lambda lot: (lot.expires_on, lot.id)):
        if left == 0:
            break
        if not lot.category_ids:
            take = min(lot.remaining, left)
        else:
            # Lower category id first: a deterministic split of one lot over its categories.
            take = 0
            for category in sorted(lot.category_ids):
                step = min(lot.remaining - take, left - take, room.get(category, 0))
                if step > 0:
                    room[category] -= step
                    take += step
        if take > 0:
            parts.append(CreditPart(lot_id=lot.id, amount=take))
            left -= take
    return CreditPlan(amount=amount, parts=tuple(parts))
