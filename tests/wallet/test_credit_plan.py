"""The credit planner (wallet.credit.credit_plan): pure, so its rules are properties."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from wallet.credit import CreditLotView, credit_plan

NOW = datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.UTC)
DAY = datetime.date(2026, 12, 1)


def lot(id_, remaining, days, categories=(), *, expired=False):
    return CreditLotView(
        id=id_,
        remaining=remaining,
        expires_on=DAY + datetime.timedelta(days=days),
        category_ids=frozenset(categories),
        expires_at=NOW - datetime.timedelta(seconds=1)
        if expired
        else NOW + datetime.timedelta(days=days + 1),
    )


@st.composite
def lots(draw, *, restricted=True):
    count = draw(st.integers(0, 6))
    made = []
    for id_ in draw(st.lists(st.integers(1, 1000), min_size=count, max_size=count, unique=True)):
        categories = draw(st.sets(st.integers(1, 3), max_size=1)) if restricted else set()
        made.append(
            lot(
                id_,
                draw(st.integers(0, 5000)),
                draw(st.integers(0, 5)),
                categories,
                expired=draw(st.booleans()) if restricted else False,
            )
        )
    return made


payables = st.dictionaries(st.sampled_from([None, 1, 2, 3]), st.integers(0, 5000))


def plan(lots_, amount, payable):
    return credit_plan(lots=lots_, amount=amount, payable_by_category=payable, now=NOW)


def test_soonest_expiring_first_then_lower_id():
    made = [lot(5, 100, 3), lot(2, 100, 1), lot(9, 100, 1), lot(1, 100, 7)]
    result = plan(made, 250, {None: 250})
    assert [(p.lot_id, p.amount) for p in result.parts] == [(2, 100), (9, 100), (5, 50)]
    assert (result.credit, result.money) == (250, 0)


def test_a_restricted_lot_pays_only_its_categories_and_they_are_shared():
    made = [lot(1, 500, 1, {1}), lot(2, 500, 2, {1}), lot(3, 500, 3)]
    result = plan(made, 1200, {1: 600, None: 600})
    assert [(p.lot_id, p.amount) for p in result.parts] == [(1, 500), (2, 100), (3, 500)]
    assert result.money == 100


def test_an_expired_lot_never_pays():
    result = plan([lot(1, 500, 0, expired=True), lot(2, 100, 3)], 300, {None: 300})
    assert [(p.lot_id, p.amount) for p in result.parts] == [(2, 100)]
    assert result.money == 200


def test_no_lots_is_all_money():
    result = plan([], 700, {None: 700})
    assert (result.parts, result.credit, result.money) == ((), 0, 700)


@given(lots(), st.integers(0, 20000), payables)
def test_the_plan_pays_at_most_the_amount_from_usable_lots(made, amount, payable):
    result = plan(made, amount, payable)
    by_id = {lot_.id: lot_ for lot_ in made}
    assert result.credit + result.money == amount
    assert 0 <= result.credit <= amount
    assert len({p.lot_id for p in result.parts}) == len(result.parts)
    for part in result.parts:
        used = by_id[part.lot_id]
        assert 0 < part.amount <= used.remaining
        assert not used.expired(NOW)
    for category in (1, 2, 3):
        restricted = sum(
            p.amount for p in result.parts if by_id[p.lot_id].category_ids == {category}
        )
        assert restricted <= max(0, payable.get(category, 0))


@given(lots(restricted=False), st.integers(0, 20000))
def test_unrestricted_lots_are_used_as_a_prefix_and_as_much_as_possible(made, amount):
    result = plan(made, amount, {None: amount})
    assert result.credit == min(amount, sum(lot_.remaining for lot_ in made))
    order = sorted((c for c in made if c.remaining), key=lambda c: (c.expires_on, c.id))
    taken = {p.lot_id: p.amount for p in result.parts}
    used = [index for index, candidate in enumerate(order) if candidate.id in taken]
    # every lot before the last one used was used up
    for earlier in order[: used[-1] if used else 0]:
        assert taken.get(earlier.id) == earlier.remaining


@given(lots(), st.integers(0, 20000), payables, st.randoms())
def test_the_plan_does_not_depend_on_the_order_of_the_lots(made, amount, payable, random):
    shuffled = list(made)
    random.shuffle(shuffled)
    assert plan(shuffled, amount, payable) == plan(made, amount, payable)


@given(lots(), st.integers(0, 20000), payables, st.integers(0, 20000))
def test_asking_again_for_what_was_planned_gives_the_same_parts(made, amount, payable, extra):
    """Checkout plans with the order total, then spends credit + money (at most the total):
    the second plan must take the same credit from the same lots."""
    first = plan(made, amount, payable)
    again = plan(made, first.credit + min(extra, first.money), payable)
    assert again.parts == first.parts
