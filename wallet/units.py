"""Reward points and coins: the two ledger units beside money, and their rates (docs/points.md).

Both live in the same double-entry ledger as money, on accounts whose `currency` is the unit's
code instead of an ISO currency: `PTS` (reward points) and `CNS` (coins). A transfer's legs sum
to zero per unit, so a conversion of points into credit is one transfer with a points side and
a money side, each balanced.

The rates are per currency (docs/interface.md §13). Today every region happens to use the same
integers, because a JPY minor unit is a whole yen:
- earning: 1 point per whole major unit paid, JPY per 100 yen: one point per 100 minor units;
- converting: 500 points → 5.00 (JPY ¥500): one minor unit of credit per point;
- coins: 100 coins = 1.00 (JPY 1 coin = ¥1): one minor unit per coin.
Pure functions: no database.
"""

from babel.numbers import format_decimal

from catalog.money import format_money

POINTS = "PTS"
COINS = "CNS"
UNITS = (POINTS, COINS)

# Points are converted in whole steps of this many points.
POINTS_CONVERT_STEP = 500
# How long earned points stay pending (the return window) before they can be used.
POINTS_PENDING_DAYS = 14

# Minor units paid per point earned, per currency.
EARN_MINOR_PER_POINT = {"USD": 100, "GBP": 100, "EUR": 100, "JPY": 100}
# Minor units of promotional credit per point converted, per currency.
CREDIT_MINOR_PER_POINT = {"USD": 1, "GBP": 1, "EUR": 1, "JPY": 1}
# Minor units one coin pays for, per currency (an integer: coin sums stay exact).
MINOR_PER_COIN = {"USD": 1, "GBP": 1, "EUR": 1, "JPY": 1}


class UnknownCurrency(ValueError):
    """A currency without points or coin rates: a region added without its rates."""


def _rate(table: dict[str, int], currency: str) -> int:
    try:
        return table[currency]
    except KeyError:
        raise UnknownCurrency(f"no points or coin rate for {currency}") from None


def points_earned(*, paid: int, currency: str) -> int:
    """Points for `paid` minor units of money: whole steps only, never for a part."""
    return max(paid, 0) // _rate(EARN_MINOR_PER_POINT, currency)


def points_credit_value(*, points: int, currency: str) -> int:
    """The promotional credit (minor units) that `points` convert to."""
    return points * _rate(CREDIT_MINOR_PER_POINT, currency)


def coins_value(*, coins: int, currency: str) -> int:
    """What `coins` pay for, in minor units of `currency`."""
    return coins * _rate(MINOR_PER_COIN, currency)


def coins_for_value(*, value: int, currency: str) -> int:
    """The coins that pay exactly `value` minor units (the largest number that does not pay
    more than `value`: a part of a coin is never spent)."""
    return value // _rate(MINOR_PER_COIN, currency)


def format_points(points: int, *, locale: str = "en_US") -> str:
    """`1250` → "1,250 points" (one point: "1 point")."""
    word = "point" if abs(points) == 1 else "points"
    return f"{format_decimal(points, locale=locale)} {word}"


def format_coins(coins: int, *, locale: str = "en_US") -> str:
    """`500` → "500 coins" (one coin: "1 coin")."""
    word = "coin" if abs(coins) == 1 else "coins"
    return f"{format_decimal(coins, locale=locale)} {word}"


def format_units(amount: int, *, unit: str, locale: str = "en_US") -> str:
    """An amount of points or coins as words; a caller with money uses catalog.money."""
    if unit == POINTS:
        return format_points(amount, locale=locale)
    if unit == COINS:
        return format_coins(amount, locale=locale)
    raise UnknownCurrency(f"{unit} is not points or coins")


def format_amount(amount: int, *, currency: str, locale: str | None = None) -> str:
    """Any ledger amount for display: points and coins as words, money through Babel."""
    if currency in UNITS:
        return format_units(amount, unit=currency, locale=locale or "en_US")
    return format_money(amount, currency=currency, locale=locale)
