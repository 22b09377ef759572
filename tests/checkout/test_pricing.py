"""`quote_build`: subtotal, discount, balance part and card part, in every currency."""

import datetime

import pytest

from checkout.pricing import Discount, PricedGiftCard, PricedLine, Rate, quote_build
from promotions.engine import Evaluation
from wallet.credit import CreditLotView


def _line(unit_price, quantity=1, product_id=1):
    return PricedLine(
        product_id=product_id,
        slug=f"p-{product_id}",
        name=f"P{product_id}",
        quantity=quantity,
        unit_price=unit_price,
    )


def _quote(lines, *, balance=0, use_balance=True, discounts=(), currency="USD"):
    return quote_build(
        currency=currency,
        lines=lines,
        balance=balance,
        use_balance=use_balance,
        discounts=discounts,
    )


def test_subtotal_is_the_sum_of_unit_price_times_quantity():
    quote = _quote([_line(2999, 2, 1), _line(499, 3, 2)])

    assert quote.subtotal == 2999 * 2 + 499 * 3
    assert quote.total == quote.subtotal
    assert quote.item_count == 5
    assert quote.discount == 0


@pytest.mark.parametrize(
    ("balance", "applied", "due"),
    [
        (0, 0, 5000),
        (1, 1, 4999),
        (4999, 4999, 1),
        (5000, 5000, 0),
        (5001, 5000, 0),
        (10**9, 5000, 0),
        (-10, 0, 5000),  # a balance is never negative, but never adds to the bill either
    ],
)
def test_balance_applied_is_the_smaller_of_balance_and_total(balance, applied, due):
    quote = _quote([_line(2500, 2)], balance=balance)

    assert quote.balance_applied == applied
    assert quote.amount_due == due
    assert quote.balance_applied + quote.amount_due == quote.total
    assert quote.balance_available == balance


def test_the_switch_off_applies_no_balance():
    quote = _quote([_line(2500, 2)], balance=100_000, use_balance=False)

    assert quote.use_balance is False
    assert quote.balance_applied == 0
    assert quote.amount_due == 5000
    assert quote.balance_available == 100_000


def test_discounts_reduce_the_total_before_the_balance():
    quote = _quote([_line(5000)], balance=10_000, discounts=[Discount("SUMMER10", 500)])

    assert quote.discount == 500
    assert quote.total == 4500
    assert quote.balance_applied == 4500
    assert quote.amount_due == 0


def test_several_discounts_add_up():
    quote = _quote([_line(5000)], discounts=[Discount("A", 700), Discount("B", 300)])

    assert quote.discount == 1000
    assert quote.amount_due == 4000


def test_discounts_are_capped_at_the_subtotal():
    quote = _quote([_line(1000)], balance=500, discounts=[Discount("A", 800), Discount("B", 800)])

    assert quote.discount == 1000
    assert quote.total == 0
    assert quote.balance_applied == 0  # nothing left for the balance to pay
    assert quote.amount_due == 0


def test_a_line_not_sold_in_the_region_is_unavailable_and_adds_nothing():
    missing = _line(None, 3, product_id=2)
    quote = _quote([_line(1000, 1, 1), missing], balance=0)

    assert quote.unavailable == [missing]
    assert quote.subtotal == 1000
    assert missing.total == 0


def test_an_empty_cart_costs_nothing():
    quote = _quote([], balance=1000)

    assert quote.lines == []
    assert (quote.subtotal, quote.total, quote.balance_applied, quote.amount_due) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("currency", "unit_price", "balance", "applied", "due"),
    [
        ("USD", 2999, 1000, 1000, 4998),  # cents
        ("GBP", 2399, 5000, 4798, 0),  # pence
        ("EUR", 2799, 2799, 2799, 2799),  # cents
        ("JPY", 4500, 1000, 1000, 8000),  # whole yen: no minor unit
    ],
)
def test_pricing_in_every_currency_is_exact_integers_of_its_minor_unit(
    currency, unit_price, balance, applied, due
):
    quote = _quote([_line(unit_price, 2)], balance=balance, currency=currency)

    assert quote.currency == currency
    assert quote.subtotal == unit_price * 2
    assert (quote.balance_applied, quote.amount_due) == (applied, due)
    assert all(
        isinstance(v, int) for v in (quote.subtotal, quote.balance_applied, quote.amount_due)
    )


# --- coins (docs/points.md): digital lines first, whole coins, then balance and card ----------


def _kind_line(unit_price, quantity=1, product_id=1, *, kind="physical", category_id=None):
    """A line of a physical item, a digital one, or a coin pack."""
    return PricedLine(
        product_id=product_id,
        slug=f"p-{product_id}",
        name=f"P{product_id}",
        quantity=quantity,
        unit_price=unit_price,
        digital=kind == "digital",
        coin_pack=kind == "coin_pack",
        pack_coins=500 if kind == "coin_pack" else 0,
        category_id=category_id,
    )


def _split(quote):
    return (quote.coins_applied, quote.balance_applied, quote.amount_due)


@pytest.mark.parametrize("currency", ["USD", "GBP", "EUR", "JPY"])
def test_coins_pay_the_digital_lines_then_the_balance_then_the_card(currency):
    lines = [
        _kind_line(3000, 1, 1),  # physical
        _kind_line(1299, 2, 2, kind="digital"),
        _kind_line(475, 1, 3, kind="coin_pack"),
    ]
    quote = quote_build(
        currency=currency, lines=lines, balance=1000, use_balance=True, coins=10_000
    )

    assert quote.line_coins == {2: 2598}
    assert (quote.coins_spent, quote.coins_available, quote.coins_balance) == (2598, 10_000, 10_000)
    # Coins: the app; the balance: part of the lamp; the card: the rest and the coin pack.
    assert _split(quote) == (2598, 1000, 2000 + 475)
    assert quote.coins_applied + quote.balance_applied + quote.amount_due == quote.total == 6073
    assert quote.card_only_total == 475


def test_not_enough_coins_pay_the_digital_lines_in_the_carts_order():
    lines = [
        _kind_line(1299, 1, 7, kind="digital"),
        _kind_line(999, 1, 3, kind="digital"),
        _kind_line(1999, 1, 5, kind="digital"),
    ]
    quote = quote_build(currency="USD", lines=lines, balance=500, use_balance=True, coins=1500)

    assert quote.line_coins == {7: 1299, 3: 201}  # the third line gets none
    assert _split(quote) == (1500, 500, 4297 - 1500 - 500)


def test_the_coins_switch_off_spends_no_coins():
    lines = [_kind_line(1299, 1, 1, kind="digital")]
    quote = quote_build(
        currency="USD", lines=lines, balance=0, use_balance=True, coins=5000, use_coins=False
    )

    assert (quote.use_coins, quote.line_coins, quote.coins_spent) == (False, {}, 0)
    assert _split(quote) == (0, 0, 1299)
    assert quote.coins_available == 5000  # still shown: the shopper has them
    assert quote.coins_shown


def test_coins_never_pay_what_ships_shipping_gift_cards_or_coin_packs():
    lines = [_kind_line(3000, 1, 1), _kind_line(475, 2, 2, kind="coin_pack")]
    gift = PricedGiftCard(
        id=1,
        product_id=9,
        name="Gift card for Ann",
        amount=5000,
        delivery="email",
        recipient_name="Ann",
        recipient_email="ann@example.com",
        message="",
        design="birthday",
        send_on=None,
    )
    quote = quote_build(
        currency="USD",
        lines=lines,
        balance=100_000,
        use_balance=True,
        coins=100_000,
        rates=[Rate("standard", 599)],
        gift_cards=[gift],
    )

    assert (quote.coins_applied, quote.line_coins) == (0, {})
    # The balance pays the lamp and its shipping; the card pays the gift card and coin packs.
    assert quote.balance_applied == 3000 + 599
    assert quote.amount_due == 5000 + 950 == quote.card_only_total


def test_coins_pay_a_digital_line_after_its_discount_in_whole_coins_only():
    lines = [_kind_line(1000, 2, 1, kind="digital"), _kind_line(500, 1, 2, kind="digital")]
    evaluation = Evaluation(
        applied=(),
        refusals=(),
        notes=(),
        items_discount=250,
        shipping=0,
        shipping_discount=0,
        unit_allocations={1: (125, 125)},
    )
    quote = quote_build(
        currency="JPY", lines=lines, balance=0, use_balance=True, coins=1800, evaluation=evaluation
    )

    assert quote.line_coins == {1: 1750, 2: 50}
    assert _split(quote) == (1800, 0, 2500 - 250 - 1800)


def test_coin_packs_are_never_discounted_and_count_for_no_free_shipping():
    lines = [_kind_line(4000, 1, 1), _kind_line(4250, 1, 2, kind="coin_pack")]
    quote = quote_build(
        currency="USD",
        lines=lines,
        balance=0,
        use_balance=True,
        rates=[Rate("standard", 599, free_from=5000)],
        discounts=[Discount("BIG", 10_000)],
    )

    assert quote.shipping == 599  # 4000 of goods: the coin pack does not reach the 5000
    assert quote.discount == 4000 + 599  # at most the goods and shipping, never the pack
    assert quote.amount_due == 4250


def test_a_cart_of_coin_packs_ships_nothing():
    quote = quote_build(
        currency="USD",
        lines=[_kind_line(475, 1, 1, kind="coin_pack")],
        balance=0,
        use_balance=True,
        rates=[Rate("standard", 599)],
    )

    assert not quote.needs_shipping
    assert (quote.shipping_line, quote.shipping) == (None, 0)


def test_credit_for_a_category_never_pays_what_coins_already_paid():
    games = 40
    lines = [_kind_line(2000, 1, 1, kind="digital", category_id=games), _kind_line(1000, 1, 2)]
    lot = CreditLotView(
        id=1,
        remaining=5000,
        expires_on=datetime.date(2099, 1, 1),
        category_ids=frozenset({games}),
    )
    quote = quote_build(
        currency="USD",
        lines=lines,
        balance=5000,
        use_balance=True,
        credit_lots=[lot],
        money=0,
        coins=1500,
    )

    # Coins pay 1500 of the game; the games-only lot pays the 500 left of it, never the lamp.
    assert quote.line_coins == {1: 1500}
    assert (quote.credit_applied, quote.balance_applied) == (500, 500)
    assert quote.amount_due == 1000


def test_the_coins_part_is_shown_with_coins_or_a_digital_line_only():
    physical = [_kind_line(1000, 1, 1)]
    digital = [_kind_line(1000, 1, 1, kind="digital")]

    assert not _quote(physical).coins_shown
    assert quote_build(
        currency="USD", lines=physical, balance=0, use_balance=True, coins=1
    ).coins_shown
    assert _quote(digital).coins_shown
