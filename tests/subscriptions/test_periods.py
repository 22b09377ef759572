"""The period arithmetic of Subscribe & Save (subscriptions/periods.py): month ends, leap
years, every 1/2/3/6 months counted from the anchor (never drifting), and a re-anchor on a
new frequency that keeps the next date and the anchor's day."""

import calendar
import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from subscriptions.periods import (
    EVERY_MONTHS,
    months_add,
    period_date,
    period_index_after,
    period_reanchor,
)

D = datetime.date


def _dates(anchor, every, count):
    return [period_date(anchor=anchor, every=every, index=n) for n in range(count)]


def test_a_month_end_anchor_lands_on_each_month_end_and_comes_back_to_the_31st():
    assert _dates(D(2027, 1, 31), 1, 5) == [
        D(2027, 1, 31),
        D(2027, 2, 28),
        D(2027, 3, 31),
        D(2027, 4, 30),
        D(2027, 5, 31),
    ]
    # 2028 is a leap year: 29 February.
    assert period_date(anchor=D(2028, 1, 31), every=1, index=1) == D(2028, 2, 29)
    assert period_date(anchor=D(2027, 8, 31), every=6, index=1) == D(2028, 2, 29)
    assert _dates(D(2027, 11, 30), 3, 3) == [D(2027, 11, 30), D(2028, 2, 29), D(2028, 5, 30)]


def test_a_29_february_anchor_is_28_february_in_common_years_and_29_again_in_leap_years():
    anchor = D(2028, 2, 29)
    # Every 6 months: index 2 is a year on (2029: 28th), index 8 four years on (2032: 29th).
    assert period_date(anchor=anchor, every=6, index=1) == D(2028, 8, 29)
    assert period_date(anchor=anchor, every=6, index=2) == D(2029, 2, 28)
    assert period_date(anchor=anchor, every=6, index=8) == D(2032, 2, 29)
    assert period_date(anchor=anchor, every=1, index=12) == D(2029, 2, 28)
    assert period_date(anchor=anchor, every=3, index=16) == D(2032, 2, 29)


def test_every_1_2_3_6_months_and_the_year_boundary():
    anchor = D(2026, 11, 15)
    assert [period_date(anchor=anchor, every=e, index=1) for e in EVERY_MONTHS] == [
        D(2026, 12, 15),
        D(2027, 1, 15),
        D(2027, 2, 15),
        D(2027, 5, 15),
    ]
    assert months_add(D(2026, 12, 31), 1) == D(2027, 1, 31)
    assert months_add(D(2026, 12, 31), 14) == D(2028, 2, 29)


def test_period_index_after_counts_from_the_anchor():
    anchor = D(2027, 1, 31)
    assert period_index_after(anchor=anchor, every=1, after=D(2027, 1, 30)) == 0
    assert period_index_after(anchor=anchor, every=1, after=D(2027, 1, 31)) == 1
    assert period_index_after(anchor=anchor, every=1, after=D(2027, 2, 27)) == 1
    assert period_index_after(anchor=anchor, every=1, after=D(2027, 2, 28)) == 2
    assert period_index_after(anchor=anchor, every=6, after=D(2030, 1, 1)) == 6


anchors = st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31))
everies = st.sampled_from(EVERY_MONTHS)


@settings(max_examples=150, deadline=None)
@given(anchor=anchors, every=everies, index=st.integers(0, 200))
def test_a_period_date_is_on_the_anchors_day_or_the_months_last_day(anchor, every, index):
    due = period_date(anchor=anchor, every=every, index=index)
    month0 = anchor.month - 1 + every * index
    assert (due.year, due.month) == (anchor.year + month0 // 12, month0 % 12 + 1)
    assert due.day == min(anchor.day, calendar.monthrange(due.year, due.month)[1])
    assert period_date(anchor=anchor, every=every, index=index + 1) > due  # monotonic


@settings(max_examples=150, deadline=None)
@given(anchor=anchors, every=everies, offset=st.integers(-40, 4000))
def test_period_index_after_is_the_smallest_index_due_later(anchor, every, offset):
    after = anchor + datetime.timedelta(days=offset)
    index = period_index_after(anchor=anchor, every=every, after=after)
    assert period_date(anchor=anchor, every=every, index=index) > after
    assert index == 0 or period_date(anchor=anchor, every=every, index=index - 1) <= after


@settings(max_examples=150, deadline=None)
@given(anchor=anchors, every=everies, index=st.integers(0, 60), new_every=everies)
def test_a_reanchor_keeps_the_next_date_the_day_and_never_reuses_an_index(
    anchor, every, index, new_every
):
    next_date = period_date(anchor=anchor, every=every, index=index)
    new_anchor, new_index = period_reanchor(
        anchor=anchor, index=index, next_date=next_date, every=new_every
    )
    assert new_index >= index
    assert new_anchor.day == anchor.day
    assert period_date(anchor=new_anchor, every=new_every, index=new_index) == next_date
    following = period_date(anchor=new_anchor, every=new_every, index=new_index + 1)
    months = (following.year - next_date.year) * 12 + following.month - next_date.month
    assert months == new_every
    assert following.day == min(anchor.day, calendar.monthrange(following.year, following.month)[1])
