"""The period arithmetic of Subscribe & Save (docs/subscriptions.md), pure functions.

Period n of a subscription is due `n x every` calendar months after its anchor date, on the
anchor's day of the month, or on the month's last day when it has fewer days (31 January →
28 February, or 29 in a leap year → 31 March). Counting from the anchor every time, never
from the previous delivery, keeps a subscription on its day: it never drifts to the 28th.

"Today" is a date in the subscription's region (catalog.regions.region_today): a JP delivery
due on the 5th is due from midnight in Tokyo, a US one from midnight in New York.
"""

import calendar
import datetime

EVERY_MONTHS = (1, 2, 3, 6)


def months_add(day: datetime.date, months: int) -> datetime.date:
    """`day` plus `months` calendar months, clamped to the month's last day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_date(*, anchor: datetime.date, every: int, index: int) -> datetime.date:
    """The due date of period `index` (0 is the anchor itself)."""
    return months_add(anchor, every * index)


def period_index_after(*, anchor: datetime.date, every: int, after: datetime.date) -> int:
    """The first period whose due date is later than `after` (0 when the anchor is)."""
    if anchor > after:
        return 0
    # A guess from the month difference, then corrected: at most a step either way.
    months = (after.year - anchor.year) * 12 + after.month - anchor.month
    index = max(months // every, 0)
    while period_date(anchor=anchor, every=every, index=index) > after and index > 0:
        index -= 1
    while period_date(anchor=anchor, every=every, index=index) <= after:
        index += 1
    return index


def period_reanchor(
    *, anchor: datetime.date, index: int, next_date: datetime.date, every: int
) -> tuple[datetime.date, int]:
    """The anchor and index of a new frequency `every` that keeps the next delivery on
    `next_date` and the following ones on the anchor's day (a 31st stays a 31st).

    The index never goes below `index`: a period's index names its history row and its
    orders' idempotency keys (services/deliveries.py), so starting again from 0 would find
    period 0's order and deliver nothing new. The new anchor is `every x index'` months before
    `next_date` on the anchor's day, in the first month from `index` on that has that day."""
    day = anchor.day
    if next_date.day != min(day, calendar.monthrange(next_date.year, next_date.month)[1]):
        day = next_date.day  # not one of the anchor's dates: its own day goes on
    month0 = next_date.year * 12 + next_date.month - 1
    new_index = index
    while True:
        year, month = divmod(month0 - every * new_index, 12)
        if calendar.monthrange(year, month + 1)[1] >= day:
            return datetime.date(year, month + 1, day), new_index
        new_index += 1
