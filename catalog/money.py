"""Money: the one module that knows currencies' minor digits, parses amounts and formats them.

Inside Coinpurse every amount is an exact integer of its currency's minor unit (cents, pence,
yen). `Decimal` appears only here, at the edges: parsing what a person or a CSV file typed
("25.00", "1000") and formatting for display with Babel in the shopper's locale.
"""

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision

# Amounts above this are refused at the edges: far beyond any gift card, well inside BIGINT.
MAX_MINOR = 10**12

# Locale used to show a currency when no shopper's region says otherwise.
DEFAULT_LOCALE = {"USD": "en_US", "GBP": "en_GB", "EUR": "de_DE", "JPY": "ja_JP"}


class MoneyError(ValueError):
    """An amount that cannot be taken as money in its currency; the message says why."""


def minor_digits(currency: str) -> int:
    """How many digits the currency has after the decimal point (USD 2, JPY 0)."""
    return get_currency_precision(currency)


def parse_amount(text: str, *, currency: str) -> int:
    """Parse a major-unit amount ("25.00", "1000") into minor units of `currency`.

    Refuses, never rounds: more fractional digits than the currency has, signs, exponents,
    thousands separators and amounts that are not positive or absurdly large.
    """
    raw = (text or "").strip()
    digits = minor_digits(currency)
    # ASCII digits only: `str.isdigit` and `Decimal` also accept other scripts' digits.
    if not raw or not all(ch in "0123456789." for ch in raw) or raw.count(".") > 1:
        raise MoneyError(f"'{text}' is not an amount: use digits like 25.00.")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise MoneyError(f"'{text}' is not an amount: use digits like 25.00.") from exc
    if "." in raw and len(raw.split(".", 1)[1]) > digits:
        if digits == 0:
            raise MoneyError(f"{currency} has no minor unit: give a whole number, not '{text}'.")
        raise MoneyError(f"{currency} has {digits} decimal places at most, not '{text}'.")
    minor = int(value.scaleb(digits))
    if minor <= 0:
        raise MoneyError("The amount must be more than zero.")
    if minor > MAX_MINOR:
        raise MoneyError(f"'{text}' is too large.")
    return minor


def to_major_text(minor: int, *, currency: str) -> str:
    """Minor units as plain major-unit text for files and commands: 2500 USD → "25.00"."""
    digits = minor_digits(currency)
    value = Decimal(minor).scaleb(-digits)
    return f"{value:.{digits}f}"


def format_money(minor: int, *, currency: str, locale: str | None = None) -> str:
    """Minor units for display in a locale: 123450 USD en_US → "$1,234.50"."""
    locale = locale or DEFAULT_LOCALE.get(currency, "en_US")
    if type(minor) is not int:  # a Decimal or a float: -0 would share 0's remembered text
        return _formatted.__wrapped__(minor, currency, locale)
    return _formatted(minor, currency, locale)


# Remembered by the process, least recently used out first: a pure function of its arguments
# (Babel's data does not change while the process runs), and Babel's formatting costs about
# 20 µs an amount, on every page (the navigation's balance) and every redemption's message.
@lru_cache(maxsize=4096)
def _formatted(minor: int, currency: str, locale: str) -> str:
    digits = minor_digits(currency)
    return format_currency(Decimal(minor).scaleb(-digits), currency, locale=locale)
