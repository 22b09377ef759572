"""The engine on its own (promotions.engine): every reason with its figures and words, each
kind, caps, budgets, buy X get Y, shipping and its threshold before promotions."""

import datetime

import pytest

from catalog.money import format_money
from promotions.engine import EnteredCode, RuleResult, rule_check
from tests.promotions.engine_inputs import (
    BOOKS,
    EXPRESS,
    GAMES,
    STANDARD,
    TODAY,
    amounts,
    evaluate,
    line,
    reasons,
    shopper,
    spec,
)

CART = [line(1, 1550, 2), line(2, 4499, 1, category=GAMES)]  # 75.99


def _refusal(specs, lines=CART, **kwargs):
    [refusal] = evaluate(lines, specs, **kwargs).refusals
    return refusal


# --- reasons, one by one: rule_check's answer, then the refusal's words


def test_not_found_for_an_unknown_code_a_disabled_one_and_one_not_given():
    disabled = spec(code="OFF", active=False)
    assert rule_check(spec=disabled, lines=CART, shopper=shopper()).reason == "not_found"
    evaluation = evaluate(
        CART,
        [disabled],
        entered=[
            disabled,
            EnteredCode(code="NOSUCH", promotion_id=None),
            EnteredCode(code="GONE", promotion_id=999_999),
        ],
    )
    assert [(r.code, r.reason) for r in evaluation.refusals] == [
        ("OFF", "not_found"),
        ("NOSUCH", "not_found"),
        ("GONE", "not_found"),
    ]
    assert evaluation.refusals[1].message == (
        "We do not recognise the code NOSUCH. Check it and try again."
    )
    assert (evaluation.discount, evaluation.applied) == (0, ())


def test_not_started_names_the_first_day():
    soon = spec(code="SOON", starts_on=TODAY + datetime.timedelta(days=1))
    result = rule_check(spec=soon, lines=CART, shopper=shopper())
    assert result == RuleResult(False, "not_started", {"starts_on": "2026-12-02"})
    assert _refusal([soon]).message == "SOON starts on December 2, 2026."


def test_expired_names_the_last_day_and_the_last_day_itself_still_counts():
    old = spec(code="OLDCODE", ends_on=TODAY - datetime.timedelta(days=1))
    assert rule_check(spec=old, lines=CART, shopper=shopper()).params == {"ended_on": "2026-11-30"}
    assert _refusal([old]).message == "OLDCODE expired on November 30, 2026."
    last_day = spec(ends_on=TODAY, starts_on=TODAY)
    assert rule_check(spec=last_day, lines=CART, shopper=shopper()).passed


def test_wrong_region_by_region_list_and_by_missing_currency_amounts():
    us_only = spec(code="LIMITED1", region_codes=frozenset({"US"}))
    assert rule_check(spec=us_only, lines=CART, shopper=shopper()).passed
    gb = shopper("GBP")
    assert rule_check(spec=us_only, lines=CART, shopper=gb) == RuleResult(
        False, "wrong_region", {"region": "GB"}
    )
    assert _refusal([us_only], who=gb).message == "LIMITED1 cannot be used in your region."
    no_yen = spec(kind="fixed", amount_off=None, has_currency_amounts=False)
    assert rule_check(spec=no_yen, lines=CART, shopper=shopper("JPY")).reason == "wrong_region"
    credit = spec(kind="credit", amount_off=None, has_currency_amounts=False)
    assert rule_check(spec=credit, lines=[], shopper=shopper()).reason == "wrong_region"


def test_first_order_only():
    welcome = spec(code="WELCOME10", first_order_only=True)
    returning = shopper(has_orders=True)
    assert rule_check(spec=welcome, lines=CART, shopper=returning).reason == "first_order_only"
    assert _refusal([welcome], who=returning).message == "WELCOME10 is for a first order only."


def test_already_used_by_this_shopper():
    welcome = spec(code="WELCOME10", per_shopper_limit=1)
    used = shopper(uses={welcome.id: 1})
    assert rule_check(spec=welcome, lines=CART, shopper=used) == RuleResult(
        False, "already_used", {"limit": 1}
    )
    assert _refusal([welcome], who=used).message == "You have already used WELCOME10."
    twice = spec(per_shopper_limit=2)
    assert rule_check(spec=twice, lines=CART, shopper=shopper(uses={twice.id: 1})).passed


@pytest.mark.parametrize(
    ("fields", "limit"), [({"uses_left": 0}, "uses"), ({"budget_left": 0}, "budget")]
)
def test_usage_limit_reached_by_uses_or_budget(fields, limit):
    limited = spec(code="LIMITED1", **fields)
    assert rule_check(spec=limited, lines=CART, shopper=shopper()) == RuleResult(
        False, "usage_limit_reached", {"limit": limit}
    )
    assert _refusal([limited]).message == "LIMITED1 has reached its usage limit."


def test_a_used_single_use_code_is_usage_limit_reached():
    unique = spec(code="")
    entered = [EnteredCode(code="AB12CD34", promotion_id=unique.id, already_redeemed=True)]
    refusal = _refusal([unique], entered=entered)
    assert (refusal.reason, refusal.params) == ("usage_limit_reached", {"limit": "code"})
    assert refusal.message == "The code …CD34 has already been used."


def test_no_eligible_items():
    books = spec(code="BOOKS20", category_ids=frozenset({BOOKS}), percent=20)
    games_only = [line(2, 4499, 1, category=GAMES)]
    assert rule_check(spec=books, lines=games_only, shopper=shopper()) == RuleResult(
        False, "no_eligible_items"
    )
    refusal = _refusal([books], lines=games_only)
    assert refusal.message == "BOOKS20 is for other items: nothing in your cart qualifies."
    assert rule_check(spec=spec(), lines=[], shopper=shopper()).reason == "no_eligible_items"


def test_minimum_not_met_says_how_much_more_to_spend():
    welcome = spec(code="WELCOME10", minimum_subtotal=2000)
    cart = [line(1, 1550)]
    assert rule_check(spec=welcome, lines=cart, shopper=shopper()) == RuleResult(
        False, "minimum_not_met", {"missing": 450, "minimum": 2000}
    )
    refusal = _refusal([welcome], lines=cart)
    assert (refusal.reason, refusal.params["missing"]) == ("minimum_not_met", 450)
    assert refusal.message == "Spend $4.50 more to use WELCOME10."
    assert rule_check(spec=welcome, lines=[line(1, 2000)], shopper=shopper()).passed


@pytest.mark.parametrize("currency", ["USD", "GBP", "EUR", "JPY"])
def test_the_missing_amount_is_money_in_the_shoppers_locale(currency):
    who = shopper(currency)
    welcome = spec(code="WELCOME10", minimum_subtotal=3000)
    refusal = _refusal([welcome], lines=[line(1, 1000)], who=who)
    text = format_money(2000, currency=currency, locale=who.locale)
    assert refusal.message == f"Spend {text} more to use WELCOME10."


def test_the_minimum_counts_eligible_items_before_any_discount():
    books = spec(category_ids=frozenset({BOOKS}), minimum_subtotal=3000)
    # 30.00 of books, 44.99 of games: the books alone meet it, the games do not count.
    assert rule_check(spec=books, lines=[line(1, 1500, 2)], shopper=shopper()).passed
    result = rule_check(
        spec=books, lines=[line(1, 1500), line(2, 4499, 1, GAMES)], shopper=shopper()
    )
    assert result.params["missing"] == 1500


def test_the_first_failing_rule_is_the_answer():
    both = spec(ends_on=TODAY - datetime.timedelta(days=1), minimum_subtotal=10**6)
    assert rule_check(spec=both, lines=CART, shopper=shopper()).reason == "expired"


# --- kinds


def test_percent_off_the_order_rounds_half_up_and_splits_to_the_unit():
    ev = evaluate([line(1, 455)], [spec(code="TEN", percent=10)])
    assert amounts(ev) == {"TEN": 46}  # 45.5 -> 46
    ev = evaluate(CART, [spec(code="TEN", percent=10)])
    [applied] = ev.applied
    assert applied.amount == 760  # 10% of 75.99
    assert applied.unit_allocations == {1: (155, 155), 2: (450,)}
    assert ev.unit_allocations == {1: (155, 155), 2: (450,)}
    assert ev.discount == ev.items_discount == 760
    assert applied.label == "TEN: 10% off"


def test_percent_cap_limits_one_use():
    capped = spec(code="BIG20", percent=20, cap=3000)
    assert amounts(evaluate([line(1, 20000)], [capped])) == {"BIG20": 3000}
    assert amounts(evaluate([line(1, 10000)], [capped])) == {"BIG20": 2000}
    assert evaluate([line(1, 20000)], [capped]).applied[0].label == "BIG20: 20% off up to $30.00"


def test_percent_off_items_touches_only_those_items():
    books = spec(code="BOOKS20", percent=20, category_ids=frozenset({BOOKS}))
    ev = evaluate(CART, [books])
    assert amounts(ev) == {"BOOKS20": 620}
    assert ev.unit_allocations == {1: (310, 310), 2: (0,)}
    by_product = spec(code="ONE", percent=50, target="items", product_ids=frozenset({2}))
    assert evaluate(CART, [by_product]).unit_allocations == {1: (0, 0), 2: (2250,)}


def test_fixed_off_is_never_more_than_what_it_targets():
    assert amounts(evaluate(CART, [spec(code="SAVE5", kind="fixed", amount_off=500)])) == {
        "SAVE5": 500
    }
    huge = spec(code="HUGE", kind="fixed", amount_off=10**6)
    ev = evaluate(CART, [huge])
    assert amounts(ev) == {"HUGE": 7599}
    assert ev.unit_allocations == {1: (1550, 1550), 2: (4499,)}
    books = spec(code="BOOKS", kind="fixed", amount_off=5000, category_ids=frozenset({BOOKS}))
    assert amounts(evaluate(CART, [books])) == {"BOOKS": 3100}


def test_budget_left_trims_the_discount():
    trimmed = spec(code="LAST", kind="fixed", amount_off=1500, budget_left=1000)
    assert amounts(evaluate(CART, [trimmed])) == {"LAST": 1000}
    percent = spec(code="PCT", percent=50, budget_left=1)
    ev = evaluate(CART, [percent])
    assert amounts(ev) == {"PCT": 1}
    assert sum(sum(units) for units in ev.unit_allocations.values()) == 1


def test_buy_two_get_one_free_discounts_the_cheapest_unit_of_each_group():
    b2g1 = spec(
        code="B2G1", kind="buy_x_get_y", buy_quantity=2, get_quantity=1, target="items",
        category_ids=frozenset({BOOKS}),
    )  # fmt: skip
    # Three books: the cheapest is free; the game is not eligible.
    cart = [line(1, 1000, 2), line(3, 800), line(2, 4499, 1, GAMES)]
    ev = evaluate(cart, [b2g1])
    assert amounts(ev) == {"B2G1": 800}
    assert ev.unit_allocations == {1: (0, 0), 3: (800,), 2: (0,)}
    assert ev.applied[0].label == "B2G1: buy 2 get 1 free"
    # Seven books: two groups, so the two cheapest units; the seventh unit starts no group.
    seven = [line(1, 1000, 4), line(3, 800, 3)]
    assert evaluate(seven, [b2g1]).unit_allocations == {1: (0, 0, 0, 0), 3: (800, 800, 0)}


def test_buy_one_get_one_half_off_and_too_few_units():
    bogo = spec(code="BOGO", kind="buy_x_get_y", buy_quantity=1, get_quantity=1, percent=50)
    assert amounts(evaluate([line(1, 999, 2)], [bogo])) == {"BOGO": 500}  # 4.995 -> 5.00
    assert rule_check(spec=bogo, lines=[line(1, 999)], shopper=shopper()) == RuleResult(
        False, "no_eligible_items", {"missing_quantity": 1}
    )
    assert _refusal([bogo], lines=[line(1, 999)]).message == (
        "Add 1 more eligible item to use BOGO."
    )
    capped = spec(code="CAP", kind="buy_x_get_y", buy_quantity=1, get_quantity=1, cap=300)
    assert amounts(evaluate([line(1, 999, 2)], [capped])) == {"CAP": 300}


def test_free_shipping_takes_the_standard_rate():
    shipfree = spec(code="SHIPFREE", kind="free_shipping", target="shipping")
    ev = evaluate([line(1, 1550)], [shipfree], shipping=STANDARD)
    assert (ev.shipping, ev.shipping_discount, ev.items_discount) == (599, 599, 0)
    [applied] = ev.applied
    assert (applied.amount, applied.shipping_amount, applied.unit_allocations) == (599, 599, {})
    assert ev.unit_allocations == {1: (0,)}


def test_free_shipping_is_for_standard_shipping_only():
    shipfree = spec(code="SHIPFREE", kind="free_shipping", target="shipping")
    for shipping in (EXPRESS, None):
        refusal = _refusal([shipfree], lines=[line(1, 1550)], shipping=shipping)
        assert (refusal.reason, refusal.params) == ("no_eligible_items", {"shipping": "standard"})
    assert (
        refusal.message == "SHIPFREE is for standard shipping: choose standard shipping to use it."
    )


def test_free_shipping_when_shipping_is_free_already_is_not_needed():
    shipfree = spec(code="SHIPFREE", kind="free_shipping", target="shipping")
    refusal = _refusal([shipfree], lines=[line(1, 6000)], shipping=STANDARD)
    assert refusal.reason == "no_eligible_items"
    assert refusal.message == "Your shipping is already free: SHIPFREE is not needed."


def test_the_free_from_threshold_is_judged_before_promotions():
    cart = [line(1, 5500)]
    assert evaluate(cart, [], shipping=STANDARD).shipping == 0  # 55.00 >= 50.00
    twenty = spec(code="TWENTY", percent=20)
    ev = evaluate(cart, [twenty], shipping=STANDARD)
    # 44.00 after the discount, still free: a discount never costs the free shipping.
    assert (ev.items_discount, ev.shipping, ev.shipping_discount) == (1100, 0, 0)
    shipfree = spec(code="SHIPFREE", kind="free_shipping", target="shipping")
    ev = evaluate(cart, [twenty, shipfree], shipping=STANDARD)
    assert amounts(ev) == {"TWENTY": 1100}
    assert reasons(ev) == {"SHIPFREE": "no_eligible_items"}  # shipping is free already


def test_below_the_threshold_before_promotions_shipping_is_charged_and_free_shipping_helps():
    cart = [line(1, 4999)]
    twenty = spec(code="TWENTY", percent=20)
    shipfree = spec(code="SHIPFREE", kind="free_shipping", target="shipping")
    ev = evaluate(cart, [twenty, shipfree], shipping=STANDARD)
    assert ev.shipping == 599
    assert amounts(ev) == {"TWENTY": 1000, "SHIPFREE": 599}
    assert ev.discount == 1599


def test_yen_have_no_minor_unit():
    who = shopper("JPY")
    ten = spec(code="TEN", percent=10)
    ev = evaluate([line(1, 4500, 3)], [ten], who=who)
    assert amounts(ev) == {"TEN": 1350}
    assert ev.unit_allocations == {1: (450, 450, 450)}
    fixed = spec(code="YEN", kind="fixed", amount_off=1000)
    assert evaluate([line(1, 333, 3)], [fixed], who=who).unit_allocations == {1: (333, 333, 333)}


def test_a_credit_promotion_is_never_a_discount():
    credit = spec(code="CREDIT10", kind="credit", amount_off=1000, target="order")
    ev = evaluate(CART, [credit])
    assert (ev.applied, ev.refusals, ev.discount) == ((), (), 0)


def test_an_automatic_offer_that_fails_a_rule_is_silently_not_offered():
    offer = spec(automatic=True, minimum_subtotal=10**6)
    ev = evaluate(CART, [offer])
    assert (ev.applied, ev.refusals) == ((), ())
    applies = spec(automatic=True, name="Winter sale", percent=5)
    [applied] = evaluate(CART, [applies]).applied
    assert (applied.code, applied.label, applied.amount) == ("", "Winter sale: 5% off", 380)


def test_the_description_is_the_summarys_words():
    welcome = spec(code="WELCOME10", description="10% off your first order")
    [applied] = evaluate(CART, [welcome]).applied
    assert applied.label == "WELCOME10: 10% off your first order"


def test_two_codes_of_one_promotion_apply_once():
    promo = spec(code="")
    entered = [
        EnteredCode(code="AAAA1111", promotion_id=promo.id, code_id=1),
        EnteredCode(code="BBBB2222", promotion_id=promo.id, code_id=2),
    ]
    ev = evaluate(CART, [promo], entered=entered)
    assert [(a.code, a.code_id) for a in ev.applied] == [("AAAA1111", 1)]
    assert reasons(ev) == {"BBBB2222": "not_combinable"}
    # A single-use code is not repeated: the one applied is named by its promotion.
    assert ev.refusals[0].params["conflicts_with"] == promo.name
    assert "AAAA1111" not in ev.refusals[0].message
    assert "BBBB2222" not in ev.refusals[0].message


def test_the_parts_sum_to_every_total():
    specs = [
        spec(code="BOOKS20", percent=20, category_ids=frozenset({BOOKS})),
        spec(code="BOGO", kind="buy_x_get_y", buy_quantity=1, get_quantity=1, percent=50),
        spec(code="TEN", percent=10),
        spec(code="SHIPFREE", kind="free_shipping", target="shipping"),
    ]
    cart = [line(1, 1333, 2), line(2, 999, 2, GAMES), line(3, 1, 1)]  # 46.65: shipping charged
    ev = evaluate(cart, specs, shipping=STANDARD)
    for applied in ev.applied:
        assert applied.amount == sum(map(sum, applied.unit_allocations.values())) + (
            applied.shipping_amount
        )
    assert ev.items_discount == sum(map(sum, ev.unit_allocations.values()))
    for item in cart:
        assert all(0 <= part <= item.unit_price for part in ev.unit_allocations[item.key])
    assert ev.shipping_discount == ev.shipping == 599
