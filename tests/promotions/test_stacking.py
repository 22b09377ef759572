"""The stacking table of docs/promotions.md, one test per row, and how the best allowed
combination is chosen (and said)."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from promotions.layers import Pricer
from promotions.search import compatible
from tests.promotions.engine_inputs import (
    BOOKS,
    EXPRESS,
    GAMES,
    STANDARD,
    amounts,
    evaluate,
    line,
    offers,
    reasons,
    shopper,
    spec,
)

CART = [line(1, 1550, 2), line(2, 4499, 1, category=GAMES)]  # 75.99: books 31.00, a game


def _books(percent, **fields):
    return spec(kind="percent", percent=percent, category_ids=frozenset({BOOKS}), **fields)


def _shipfree(**fields):
    return spec(kind="free_shipping", target="shipping", **fields)


# --- the table, row by row


def test_row_line_discounts_stack_in_id_order_each_on_what_is_left():
    first = _books(20, id=1, code="BOOKS20")
    second = _books(10, id=2, code="BOOKS10")
    ev = evaluate(CART, [second, first])
    assert amounts(ev) == {"BOOKS20": 620, "BOOKS10": 248}  # 10% of the 24.80 left
    assert [a.code for a in ev.applied] == ["BOOKS20", "BOOKS10"]
    assert ev.unit_allocations[1] == (434, 434)


def test_row_line_with_one_order_discount_which_takes_its_share_of_what_is_left():
    books = _books(20, id=1, code="BOOKS20")
    welcome = spec(id=2, code="WELCOME10", percent=10)
    ev = evaluate(CART, [welcome, books])
    assert amounts(ev) == {"BOOKS20": 620, "WELCOME10": 698}  # 10% of 69.79
    assert [a.code for a in ev.applied] == ["BOOKS20", "WELCOME10"]  # line layer first


def test_row_order_at_most_one_order_discount():
    welcome = spec(id=1, code="WELCOME10", percent=10)
    save5 = spec(id=2, code="SAVE5", kind="fixed", amount_off=500)
    ev = evaluate(CART, [welcome, save5])
    assert amounts(ev) == {"WELCOME10": 760}
    assert reasons(ev) == {"SAVE5": "not_combinable"}
    assert ev.refusals[0].params == {"conflicts_with": "WELCOME10"}
    assert ev.refusals[0].message == "SAVE5 cannot be combined with WELCOME10."


def test_row_shipping_with_line_and_order_discounts():
    specs = [_books(20, id=1, code="BOOKS20"), spec(id=2, code="TEN"), _shipfree(id=3, code="SHIP")]
    ev = evaluate([line(1, 1550, 2)], specs, shipping=STANDARD)
    assert amounts(ev) == {"BOOKS20": 620, "TEN": 248, "SHIP": 599}
    assert (ev.items_discount, ev.shipping_discount) == (868, 599)


def test_row_shipping_at_most_one_shipping_promotion():
    one = _shipfree(id=1, code="SHIPFREE")
    two = _shipfree(id=2, code="FREESHIP")
    ev = evaluate([line(1, 1550)], [one, two], shipping=STANDARD)
    assert amounts(ev) == {"SHIPFREE": 599}
    assert ev.refusals[0].params == {"conflicts_with": "SHIPFREE"}
    assert ev.notes == ("FREESHIP was not used: SHIPFREE saves you as much",)


def test_row_tenders_credit_is_never_a_discount_and_conflicts_with_nothing():
    credit = spec(id=1, code="CREDIT10", kind="credit", amount_off=1000, exclusive=True)
    welcome = spec(id=2, code="WELCOME10")
    ev = evaluate(CART, [credit, welcome])
    assert amounts(ev) == {"WELCOME10": 760}
    assert ev.refusals == ()


def test_row_exclusive_combines_with_nothing():
    exclusive = spec(id=1, code="VIP", percent=30, exclusive=True)
    books = _books(20, id=2, code="BOOKS20")
    ship = _shipfree(id=3, code="SHIP")
    ev = evaluate(CART, [exclusive, books, ship], shipping=STANDARD)
    assert amounts(ev) == {"VIP": 2280}  # 22.80 > 6.20 + 5.99 ... shipping is free from 50
    assert reasons(ev) == {"BOOKS20": "not_combinable", "SHIP": "no_eligible_items"}
    small = spec(id=4, code="TINY", percent=1, exclusive=True)
    ev = evaluate(CART, [small, books])
    assert amounts(ev) == {"BOOKS20": 620}
    assert ev.refusals[0].params == {"conflicts_with": "BOOKS20"}


def test_row_not_combinable_with_is_symmetric_even_if_listed_on_one_side():
    welcome = spec(id=1, code="WELCOME10", percent=10)
    books = _books(20, id=2, code="BOOKS20", not_combinable_with=frozenset({1}))
    assert not compatible(welcome, books)
    assert not compatible(books, welcome)
    ev = evaluate(CART, [welcome, books])
    assert amounts(ev) == {"WELCOME10": 760}  # 7.60 > 6.20
    assert ev.notes == ("BOOKS20 was not used: WELCOME10 saves you $1.40 more",)


# --- the best combination


def test_welcome10_beats_save5_and_says_by_how_much():
    welcome = spec(id=1, code="WELCOME10", percent=10, minimum_subtotal=2000)
    save5 = spec(
        id=2, code="SAVE5", kind="fixed", amount_off=500, minimum_subtotal=5000,
        not_combinable_with=frozenset({1}),
    )  # fmt: skip
    ev = evaluate([line(1, 7300)], [welcome, save5], entered=[save5, welcome])
    assert amounts(ev) == {"WELCOME10": 730}
    [refusal] = ev.refusals
    assert (refusal.code, refusal.reason) == ("SAVE5", "not_combinable")
    assert refusal.params == {"conflicts_with": "WELCOME10"}
    assert ev.notes == ("SAVE5 was not used: WELCOME10 saves you $2.30 more",)


def test_the_note_speaks_the_shoppers_money():
    welcome = spec(id=1, code="WELCOME10", percent=10)
    save5 = spec(id=2, code="SAVE5", kind="fixed", amount_off=500)
    ev = evaluate([line(1, 7300)], [welcome, save5], who=shopper("EUR"))
    assert ev.notes == ("SAVE5 was not used: WELCOME10 saves you 2,30\xa0€ more",)


def test_the_bigger_combination_wins_over_the_bigger_single_promotion():
    # An order discount of 10.00 against two line discounts it does not combine with,
    # worth 6.20 + 9.00 together.
    order = spec(id=1, code="TENOFF", kind="fixed", amount_off=1000)
    books = _books(20, id=2, code="BOOKS20", not_combinable_with=frozenset({1}))
    games = spec(
        id=3, code="GAMES", kind="fixed", amount_off=900, target="items",
        category_ids=frozenset({GAMES}), not_combinable_with=frozenset({1}),
    )  # fmt: skip
    ev = evaluate(CART, [order, books, games])
    assert amounts(ev) == {"BOOKS20": 620, "GAMES": 900}
    assert ev.refusals[0].params == {"conflicts_with": "BOOKS20"}
    assert ev.notes == ("TENOFF was not used: BOOKS20 and GAMES saves you $5.20 more",)


def test_an_automatic_offer_that_saves_more_is_named_by_its_name():
    sale = spec(id=1, automatic=True, name="Winter sale", percent=15)
    save5 = spec(id=2, code="SAVE5", kind="fixed", amount_off=500)
    ev = evaluate(CART, [sale, save5])
    assert amounts(ev) == {"auto-1": 1140}
    assert ev.refusals[0].params == {"conflicts_with": "Winter sale"}
    assert ev.refusals[0].message == "SAVE5 cannot be combined with Winter sale."


def test_tie_entered_code_before_automatic_offer():
    sale = spec(id=1, automatic=True, kind="fixed", amount_off=500)
    save5 = spec(id=2, code="SAVE5", kind="fixed", amount_off=500)
    ev = evaluate(CART, [sale, save5])
    assert [a.code for a in ev.applied] == ["SAVE5"]
    assert ev.refusals == ()


def test_tie_lower_id_between_two_entered_codes():
    first = spec(id=1, code="FIRST", kind="fixed", amount_off=500)
    second = spec(id=2, code="SECOND", kind="fixed", amount_off=500)
    ev = evaluate(CART, [first, second], entered=[second, first])
    assert [a.code for a in ev.applied] == ["FIRST"]
    assert ev.notes == ("SECOND was not used: FIRST saves you as much",)


def test_tie_fewer_promotions():
    # 5.00 either way: one exclusive code, or two that stack.
    exclusive = spec(id=3, code="ALONE", kind="fixed", amount_off=500, exclusive=True)
    a = spec(id=1, code="A", kind="fixed", amount_off=300, target="items", product_ids={1})
    b = spec(id=2, code="B", kind="fixed", amount_off=200, target="items", product_ids={2})
    ev = evaluate(CART, [a, b, exclusive])
    assert [x.code for x in ev.applied] == ["ALONE"]


def test_a_line_offer_an_order_discount_takes_up_is_left_out():
    # 20% off the books (6.20) and 80.00 off the order: the order discount takes whatever
    # is left, so the books offer saves nothing more.
    books = _books(20, id=1, automatic=True)
    big = spec(id=2, code="BIG", kind="fixed", amount_off=8000)
    ev = evaluate(CART, [books, big])
    assert amounts(ev) == {"BIG": 7599}


def test_of_two_offers_that_take_the_same_the_lower_id_stays():
    first = spec(id=1, automatic=True, kind="fixed", amount_off=5000, target="items",
                 category_ids=frozenset({BOOKS}))  # fmt: skip
    second = spec(id=2, automatic=True, kind="fixed", amount_off=4000, target="items",
                  category_ids=frozenset({BOOKS}))  # fmt: skip
    ev = evaluate(CART, [second, first])
    assert amounts(ev) == {"auto-1": 3100}


def test_an_offer_that_adds_nothing_is_left_out():
    free_books = _books(100, id=1, code="FREEBOOKS")
    more_books = _books(10, id=2, automatic=True)
    ev = evaluate(CART, [free_books, more_books])
    assert amounts(ev) == {"FREEBOOKS": 3100}
    entered_too = _books(10, id=3, code="BOOKS10")
    ev = evaluate(CART, [free_books, entered_too])
    assert reasons(ev) == {"BOOKS10": "no_eligible_items"}
    assert ev.refusals[0].message == "BOOKS10 adds nothing to the discounts already applied."


def test_a_discount_never_costs_the_free_shipping_so_free_shipping_is_not_needed():
    cart = [line(1, 5500)]  # free from 50.00, judged before the 20% comes off
    twenty = spec(id=1, code="TWENTY", percent=20)
    ship = _shipfree(id=2, automatic=True)
    ev = evaluate(cart, [twenty, ship], shipping=STANDARD)
    assert amounts(ev) == {"TWENTY": 1100}
    assert (ev.shipping, ev.shipping_discount) == (0, 0)


def _total(cart, shipping, evaluation) -> int:
    return sum(x.quantity * x.unit_price for x in cart) + evaluation.shipping - evaluation.discount


@settings(max_examples=300, deadline=None)
@given(offers(), st.sampled_from([STANDARD, EXPRESS, None]))
def test_the_chosen_total_is_never_above_the_total_without_promotions_and_is_the_lowest(
    data, shipping
):
    specs, cart = data
    ev = evaluate(cart, specs, shipping=shipping)
    without = evaluate(cart, [], shipping=shipping)
    assert _total(cart, shipping, ev) <= _total(cart, shipping, without)
    # And no allowed set of the usable promotions pays less: the largest discount is the
    # lowest total (the shipping price is the same for every set).
    usable = [s for s in specs if s.id not in {r.promotion_id for r in ev.refusals}]
    pricer = Pricer(lines=cart, shipping=shipping, specs={s.id: s for s in usable})
    subtotal = sum(x.quantity * x.unit_price for x in cart)
    for size in range(1, len(usable) + 1):
        for subset in itertools.combinations(usable, size):
            if all(compatible(a, b) for a, b in itertools.combinations(subset, 2)):
                priced = pricer.price(s.id for s in subset)
                assert priced.shipping == ev.shipping
                assert subtotal + priced.shipping - priced.discount >= _total(cart, shipping, ev)


# --- exact: the search finds what trying every allowed set finds, tie-break included


@settings(max_examples=300, deadline=None)
@given(offers())
def test_the_chosen_combination_is_the_best_of_every_allowed_set_with_the_tie_break(data):
    specs, cart = data
    ev = evaluate(cart, specs, shipping=STANDARD)
    usable = [s for s in specs if s.id not in {r.promotion_id for r in ev.refusals}]
    pricer = Pricer(lines=cart, shipping=STANDARD, specs={s.id: s for s in usable})
    # Best first: the largest discount, then fewer promotions, then entered before
    # automatic, then lower ids.
    best = (0, 0, [])
    for size in range(1, len(usable) + 1):
        for subset in itertools.combinations(usable, size):
            if all(compatible(a, b) for a, b in itertools.combinations(subset, 2)):
                discount = pricer.price(s.id for s in subset).discount
                ranks = sorted((1 if s.automatic else 0, s.id) for s in subset)
                best = min(best, (-discount, size, ranks))
    assert ev.discount == -best[0]
    assert sorted(a.promotion_id for a in ev.applied) == sorted(i for _, i in best[2])
