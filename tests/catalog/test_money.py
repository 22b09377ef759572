"""catalog/money.py: parsing major-unit text into minor units, and display per docs/interface.md
§3."""

import pytest

from catalog.money import (
    MAX_MINOR,
    MoneyError,
    format_money,
    minor_digits,
    parse_amount,
    to_major_text,
)


def _plain(text: str) -> str:
    """Babel uses (narrow) non-breaking spaces; compare with ordinary ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize(("currency", "digits"), [("USD", 2), ("GBP", 2), ("EUR", 2), ("JPY", 0)])
def test_minor_digits_of_every_shop_currency(currency, digits):
    assert minor_digits(currency) == digits


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("25.00", "USD", 2500),
        ("25", "USD", 2500),
        ("25.5", "USD", 2550),
        ("0.01", "USD", 1),
        (".50", "USD", 50),
        ("  25.00\n", "USD", 2500),
        ("1234.50", "GBP", 123450),
        ("19.99", "EUR", 1999),
        ("1000", "JPY", 1000),
        ("1000.", "JPY", 1000),
        ("1", "JPY", 1),
        ("10000000000.00", "USD", MAX_MINOR),
        (str(MAX_MINOR), "JPY", MAX_MINOR),
    ],
)
def test_parse_amount_takes_major_units_exactly(text, currency, minor):
    assert parse_amount(text, currency=currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10.5", "JPY"),  # JPY has no minor unit
        ("1000.0", "JPY"),
        ("1.234", "USD"),  # more digits than the currency has: refused, never rounded
        ("25.001", "EUR"),
        ("0.001", "GBP"),
        ("-5", "USD"),
        ("-5.00", "USD"),
        ("+5", "USD"),
        ("0", "USD"),
        ("0.00", "USD"),
        ("0", "JPY"),
        ("abc", "USD"),
        ("1e3", "USD"),
        ("1E3", "JPY"),
        ("1,000", "USD"),
        ("1,000", "JPY"),
        ("1 000", "USD"),
        ("25,00", "EUR"),
        ("1.2.3", "USD"),
        (".", "USD"),
        ("", "USD"),
        ("   ", "USD"),
        ("$25", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("0x10", "USD"),
        ("10000000000.01", "USD"),  # one cent over MAX_MINOR
        (str(MAX_MINOR + 1), "JPY"),
        ("9" * 40, "USD"),  # huge
        ("9" * 400 + ".00", "USD"),
        ("\u0662\u0665", "USD"),  # Arabic-Indic digits: not "digits like 25.00"
        ("\uff11\uff10\uff10\uff10", "JPY"),  # full-width digits
        ("\u00b2", "USD"),  # superscript two
    ],
)
def test_parse_amount_refuses(text, currency):
    with pytest.raises(MoneyError):
        parse_amount(text, currency=currency)


def test_parse_amount_refuses_none():
    with pytest.raises(MoneyError):
        parse_amount(None, currency="USD")


def test_parse_amount_says_why_for_a_currency_without_minor_unit():
    with pytest.raises(MoneyError, match="JPY has no minor unit"):
        parse_amount("10.5", currency="JPY")
    with pytest.raises(MoneyError, match="2 decimal places"):
        parse_amount("1.234", currency="USD")


def test_money_error_is_a_value_error():
    assert issubclass(MoneyError, ValueError)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (2500, "USD", "25.00"),
        (1, "USD", "0.01"),
        (123450, "GBP", "1234.50"),
        (1999, "EUR", "19.99"),
        (1000, "JPY", "1000"),
        (7, "JPY", "7"),
        (0, "USD", "0.00"),
        (MAX_MINOR, "USD", "10000000000.00"),
        (-2500, "USD", "-25.00"),
    ],
)
def test_to_major_text(minor, currency, text):
    assert to_major_text(minor, currency=currency) == text


@pytest.mark.parametrize(
    ("minor", "currency"),
    [(1, "USD"), (2550, "GBP"), (123450, "EUR"), (1000, "JPY"), (MAX_MINOR, "USD")],
)
def test_to_major_text_round_trips_through_parse_amount(minor, currency):
    assert parse_amount(to_major_text(minor, currency=currency), currency=currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (123450, "USD", "en_US", "$1,234.50"),
        (123450, "GBP", "en_GB", "£1,234.50"),
        (123450, "EUR", "fr_FR", "1 234,50 €"),
        (123450, "EUR", "de_DE", "1.234,50 €"),
        (1235, "JPY", "ja_JP", "￥1,235"),
        (2500, "USD", "en_US", "$25.00"),
        (5, "USD", "en_US", "$0.05"),
        (2000, "GBP", "en_GB", "£20.00"),
        (2500, "EUR", "fr_FR", "25,00 €"),
        (2500, "EUR", "de_DE", "25,00 €"),
        (3000, "JPY", "ja_JP", "￥3,000"),
        (0, "JPY", "ja_JP", "￥0"),
        (-2500, "USD", "en_US", "-$25.00"),
    ],
)
def test_format_money_in_every_contract_locale(minor, currency, locale, shown):
    assert _plain(format_money(minor, currency=currency, locale=locale)) == shown


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123450, "USD", "$1,234.50"),
        (123450, "GBP", "£1,234.50"),
        (123450, "EUR", "1.234,50 €"),
        (1235, "JPY", "￥1,235"),
    ],
)
def test_format_money_without_locale_uses_the_currency_default(minor, currency, shown):
    assert _plain(format_money(minor, currency=currency)) == shown


def test_format_money_never_shows_decimals_for_yen():
    shown = format_money(1234567, currency="JPY", locale="ja_JP")
    assert shown == "￥1,234,567"
    assert "." not in shown


def test_a_remembered_amount_is_never_another_amounts_text():
    """format_money remembers what it formatted (catalog/money.py): a value equal to another
    but shown otherwise (a negative zero) must not leave its text for the other."""
    from decimal import Decimal

    negative_zero = format_money(Decimal("-0"), currency="USD", locale="en_US")
    zero = format_money(0, currency="USD", locale="en_US")

    assert zero == "$0.00"
    assert format_money(0, currency="USD", locale="en_US") == zero
    assert negative_zero in ("-$0.00", "$0.00")  # Babel's own answer, whatever it is
