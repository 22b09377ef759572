"""The gift card bonus kind in the engine (docs/promotions.md, "Gift card bonus"): it looks at
the cart's gift cards only, gives credit (never a discount), combines with every promotion,
and one order earns one bonus. Pure: no database."""

from hypothesis import given, settings
from hypothesis import strategies as st

from promotions.engine import EnteredCode, promotions_evaluate
from tests.promotions.engine_inputs import line, offers, shopper, spec


def bonus(**fields):
    fields.setdefault("kind", "giftcard_bonus")
    fields.setdefault("automatic", True)
    fields.setdefault("amount_off", 1000)
    fields.setdefault("minimum_subtotal", 5000)
    fields.setdefault("credit_days", 30)
    return spec(**fields)


def run(specs, *, gift_cards=0, lines=(), entered=(), who=None):
    return promotions_evaluate(
        lines=list(lines),
        shipping=None,
        shopper=who or shopper(),
        promotions=specs,
        entered=[EnteredCode(code=s.code, promotion_id=s.id) for s in entered],
        gift_card_total=gift_cards,
    )


def test_gift_cards_at_the_minimum_earn_the_credit_and_change_no_figure():
    offer = bonus()
    result = run([offer], gift_cards=5000)
    (earned,) = result.bonuses
    assert (earned.promotion_id, earned.credit, earned.minimum) == (offer.id, 1000, 5000)
    assert earned.label == f"{offer.name}: $10.00 promotional credit with $50.00 of gift cards"
    assert (result.applied, result.discount, result.refusals) == ((), 0, ())


def test_below_the_minimum_or_without_gift_cards_nothing_and_no_refusal_for_an_offer():
    offer = bonus()
    assert run([offer], gift_cards=4999).bonuses == ()
    # Other lines never count towards it: only gift cards do.
    assert run([offer], lines=[line(1, 20000)]).bonuses == ()


def test_an_entered_bonus_code_is_refused_with_what_is_missing_in_gift_cards():
    offer = bonus(automatic=False, code="GIFT10")
    short = run([offer], gift_cards=4550, entered=[offer])
    assert short.bonuses == ()
    (refusal,) = short.refusals
    assert (refusal.reason, refusal.params["missing"]) == ("minimum_not_met", 450)
    assert refusal.message == "Add $4.50 more of gift cards to use GIFT10."
    none = run([offer], lines=[line(1, 9000)], entered=[offer]).refusals[0]
    assert none.reason == "no_eligible_items"
    assert none.message == "GIFT10 is for gift cards: add a gift card to your cart to use it."
    applied = run([offer], gift_cards=5000, entered=[offer])
    assert [b.code for b in applied.bonuses] == ["GIFT10"]
    assert applied.refusals == ()


def test_it_combines_with_an_exclusive_discount_and_takes_nothing_of_it():
    exclusive = spec(automatic=True, percent=10, exclusive=True)
    offer = bonus(not_combinable_with=frozenset({exclusive.id}))
    result = run([exclusive, offer], gift_cards=6000, lines=[line(1, 2000)])
    assert [a.promotion_id for a in result.applied] == [exclusive.id]
    assert result.discount == 200  # 10% of the other line; the gift cards are never discounted
    assert [b.promotion_id for b in result.bonuses] == [offer.id]


def test_one_bonus_per_order_the_largest_credit_an_entered_loser_says_which_won():
    small = bonus(amount_off=1000, minimum_subtotal=5000)
    large = bonus(amount_off=2500, minimum_subtotal=10000)
    entered = bonus(automatic=False, code="GIFT5", amount_off=500, minimum_subtotal=2000)
    result = run([small, large, entered], gift_cards=12000, entered=[entered])
    assert [b.promotion_id for b in result.bonuses] == [large.id]
    (refusal,) = result.refusals
    assert (refusal.reason, refusal.params["conflicts_with"]) == ("not_combinable", large.name)
    # Below the large tier, the small one is kept.
    assert [b.promotion_id for b in run([small, large], gift_cards=7000).bonuses] == [small.id]


def test_the_common_rules_apply_currency_region_window_limits_budget():
    assert run([bonus(has_currency_amounts=False, amount_off=None)], gift_cards=9000).bonuses == ()
    assert run([bonus(region_codes=frozenset({"GB"}))], gift_cards=9000).bonuses == ()
    assert run([bonus(uses_left=0)], gift_cards=9000).bonuses == ()
    offer = bonus(per_shopper_limit=1)
    assert run([offer], gift_cards=9000, who=shopper(uses={offer.id: 1})).bonuses == ()
    assert run([bonus(staff_ids=frozenset({1}))], gift_cards=9000).bonuses == ()
    assert run([bonus(budget_left=0)], gift_cards=9000).bonuses == ()
    (trimmed,) = run([bonus(budget_left=300)], gift_cards=9000).bonuses
    assert trimmed.credit == 300


def test_yen_amounts_are_whole_yen():
    offer = bonus(amount_off=1500, minimum_subtotal=7500)
    (earned,) = run([offer], gift_cards=7500, who=shopper("JPY")).bonuses
    assert earned.credit == 1500
    assert "1,500" in earned.label
    assert "7,500" in earned.label


@settings(max_examples=60, deadline=None)
@given(
    offers(),
    st.lists(st.tuples(st.integers(1, 3000), st.integers(0, 12000)), max_size=3),
    st.integers(0, 15000),
)
def test_bonus_offers_never_change_the_discounts_and_the_largest_credit_reached_wins(
    data, tiers, gift_total
):
    specs, cart = data
    # Listed as not combinable with every discount: a bonus still changes nothing of them.
    bonuses = [
        bonus(
            id=50 + n,
            amount_off=credit,
            minimum_subtotal=minimum,
            not_combinable_with=frozenset(s.id for s in specs),
        )
        for n, (credit, minimum) in enumerate(tiers)
    ]
    entered = [s for s in specs if not s.automatic]
    without = run(specs, gift_cards=gift_total, lines=cart, entered=entered)
    with_them = run([*specs, *bonuses], gift_cards=gift_total, lines=cart, entered=entered)
    assert with_them.applied == without.applied
    assert (with_them.discount, with_them.refusals) == (without.discount, without.refusals)
    reached = [b for b in bonuses if gift_total > 0 and gift_total >= b.minimum_subtotal]
    if not reached:
        assert with_them.bonuses == ()
    else:
        best = min(reached, key=lambda b: (-b.amount_off, b.id))
        assert [b.promotion_id for b in with_them.bonuses] == [best.id]
