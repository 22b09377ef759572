"""`{% points n %}` and `{% coins n %}`: reward points and coins in words ("1,250 points"),
in the signed-in shopper's locale, as `{% money %}` writes money."""

from django import template

from wallet.units import format_coins, format_points

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
