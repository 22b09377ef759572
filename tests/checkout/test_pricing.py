"""`quote_build`: subtotal, discount, balance part and card part, in every currency."""

import pytest

from checkout.pricing import Discount, PricedLine, quote_build


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
