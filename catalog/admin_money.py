"""Money as staff read it on every admin page: each currency with its own symbol, in one
locale, never raw minor units. Catalog's admin and the wallet's (wallet/admin/base.py) use it;
catalog imports no other shop app, so it lives here."""

import re

from catalog.money import MoneyError, format_money, parse_amount

# Staff read every currency in one locale, with the currency's own symbol: "$36.99", "€45.00",
# "£40.00", "¥3,000" (Babel's ja_JP would give the full-width "￥", boxes in a stock browser).
STAFF_LOCALE = "en_US"
MINUS = "\u2212"  # the minus sign, not the hyphen


def money_display(minor, currency, *, signed: bool = False) -> str:
    """Minor units as money for every admin page: 3699 USD → "$36.99", never "3699".

    `signed` marks a movement (a posting, an adjustment): "+$15.00", or U+2212, the minus
    sign, before "$75.00"; a balance or a price is shown plain (a negative one still gets its
    minus sign). None shows "—"."""
    if minor is None or not currency:
        return "—"
    text = format_money(abs(int(minor)), currency=currency, locale=STAFF_LOCALE)
    if minor < 0:
        return MINUS + text
    return f"+{text}" if signed and minor > 0 else text


_MAJOR_AMOUNT = re.compile(r"\b(\d+(?:\.\d+)?) (USD|EUR|GBP|JPY)\b")


def money_in_text(text: str) -> str:
    """A stored sentence with its amounts as money: "12.34 USD credited" → "$12.34 credited".
    Audit details keep major units and a currency code (they are written once, read by many)."""

    def money(match: re.Match) -> str:
        try:
            minor = parse_amount(match.group(1), currency=match.group(2))
        except MoneyError:
            return match.group(0)
        return money_display(minor, match.group(2))

    return _MAJOR_AMOUNT.sub(money, text or "")
