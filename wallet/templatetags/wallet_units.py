"""`{% points n %}` and `{% coins n %}`: reward points and coins in words ("1,250 points"),
in the signed-in shopper's locale, as `{% money %}` writes money; `{% amount n unit %}` for
a ledger amount that may be any of the three."""

from django import template

from catalog.templatetags.money import money
from wallet.units import UNITS, format_coins, format_points, format_units

register = template.Library()


def _locale(context) -> str:
    user = getattr(context.get("request"), "user", None)
    region = getattr(user, "region", None) if user is not None else None
    return region.locale if region is not None else "en_US"


@register.simple_tag(takes_context=True)
def points(context, amount):
    if amount is None:
        return ""
    return format_points(int(amount), locale=_locale(context))


@register.simple_tag(takes_context=True)
def coins(context, amount):
    if amount is None:
        return ""
    return format_coins(int(amount), locale=_locale(context))


@register.simple_tag(takes_context=True)
def amount(context, minor, currency):
    """Any ledger amount, for a row that may be money, points or coins (a report about any
    activity row): points and coins in words, money as `{% money %}` writes it."""
    if minor is None:
        return ""
    if currency in UNITS:
        return format_units(int(minor), unit=currency, locale=_locale(context))
    return money(context, minor, currency)
