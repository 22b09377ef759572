"""The one rule that splits a discount (promotions.allocation): largest remainder, ties to the
lower index, in every currency (JPY has no minor unit: the same integers, in yen)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.money import minor_digits
from promotions.allocation import AllocationError, allocate, allocate_units
from tests.promotions.engine_inputs import STANDARD, evaluate, offers, shopper

CURRENCIES = ["USD", "GBP", "EUR", "JPY"]


@st.composite
def cart(draw):
    """Lines of a cart in one currency: unit prices as that currency's integers (JPY whole
    yen, so 100 times fewer units than cents) and a discount no larger than the cart."""
    currency = draw(st.sampled_from(CURRENCIES))
    top = 10 ** (4 + minor_digits(currency))
    lines = draw(
        st.dictionaries(
            st.integers(1, 10_000),
            st.tuples(st.integers(0, top), st.integers(1, 12)),
            min_size=1,
            max_size=8,
        )
    )
    units = {key: (price,) * quantity for key, (price, quantity) in lines.items()}
    total = sum(sum(values) for values in units.values())
    amount = draw(st.integers(0, total))
    return currency, units, amount


@given(cart())
def test_units_sum_exactly_none_negative_none_above_its_unit(data):
    _, units, amount = data
    parts = allocate_units(amount, units)
    assert list(parts) == list(units)
    assert sum(sum(values) for values in parts.values()) == amount
    for key, values in parts.items():
        assert len(values) == len(units[key])
        for part, value in zip(values, units[key], strict=True):
            assert 0 <= part <= value


@given(cart())
def test_deterministic(data):
    _, units, amount = data
    assert allocate_units(amount, units) == allocate_units(amount, dict(units))


@given(
    st.lists(st.integers(0, 10**9), min_size=1, max_size=30),
    st.integers(0, 10**9),
)
def test_allocate_sums_and_stays_within_one_unit_of_the_exact_share(weights, amount):
    if sum(weights) == 0:
        amount = 0
    parts = allocate(amount, weights)
    assert sum(parts) == amount
    total = sum(weights) or 1
    for part, weight in zip(parts, weights, strict=True):
        assert part >= 0
        # floor(share) <= part <= floor(share) + 1
        assert amount * weight // total <= part <= amount * weight // total + 1
        if weight == 0:
            assert part == 0


@pytest.mark.parametrize("currency", CURRENCIES)
def test_ties_go_to_the_lower_index(currency):
    five = 5 * 10 ** minor_digits(currency)  # 5.00 (¥5)
    # 1 unit over 3 equal weights: the first one; 2 units: the first two.
    assert allocate(1, [five, five, five]) == [1, 0, 0]
    assert allocate(2, [five, five, five]) == [1, 1, 0]
    # Larger remainder first, whatever the index.
    assert allocate(1, [five, 2 * five]) == [0, 1]


def test_yen_are_whole_units():
    # 10% of ¥1,000 spread over three ¥333/¥333/¥334 units.
    assert allocate(100, [333, 333, 334]) == [33, 33, 34]


def test_the_units_of_a_line_are_numbered_after_the_line_before():
    parts = allocate_units(4, {7: (100, 100), 3: (100, 100, 100)})
    assert parts == {7: (1, 1), 3: (1, 1, 0)}


@pytest.mark.parametrize(
    ("amount", "weights"),
    [(-1, [1]), (1, [0, 0]), (1, [-1, 2]), (1, [])],
)
def test_refuses_what_cannot_be_split(amount, weights):
    with pytest.raises(AllocationError):
        allocate(amount, weights)


def test_refuses_more_than_the_units_carry():
    with pytest.raises(AllocationError):
        allocate_units(301, {1: (100, 100, 100)})


# --- the same invariants through the whole engine, in every currency


@settings(max_examples=200, deadline=None)
@given(offers(), st.sampled_from(CURRENCIES), st.booleans())
def test_every_evaluation_splits_exactly_and_nothing_goes_below_zero(data, currency, ships):
    specs, cart = data
    shipping = STANDARD if ships else None
    ev = evaluate(cart, specs, shipping=shipping, who=shopper(currency))
    subtotal = sum(item.quantity * item.unit_price for item in cart)
    assert ev.items_discount == sum(map(sum, ev.unit_allocations.values()))
    for item in cart:
        parts = ev.unit_allocations[item.key]
        assert len(parts) == item.quantity
        assert all(0 <= part <= item.unit_price for part in parts)
    for applied in ev.applied:
        assert applied.amount > 0
        assert applied.amount == sum(map(sum, applied.unit_allocations.values())) + (
            applied.shipping_amount
        )
        for key, parts in applied.unit_allocations.items():
            assert len(parts) == len(ev.unit_allocations[key])
    assert 0 <= ev.shipping_discount <= ev.shipping
    assert 0 <= ev.discount <= subtotal + ev.shipping
    # The same answer whatever order the promotions come in (the codes in the same order).
    entered = [s for s in specs if not s.automatic]
    again = evaluate(cart, specs[::-1], entered=entered, shipping=shipping, who=shopper(currency))
    assert again == ev
