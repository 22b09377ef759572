from django import template

from catalog.money import format_money

register = template.Library()


@register.simple_tag(takes_context=True)
def money(context, minor, currency):
    """`{% money amount_minor currency %}` in the signed-in shopper's locale when it fits."""
    if minor is None:
        return ""
    request = context.get("request")
    user = getattr(request, "user", None)
    locale = None
    region = getattr(user, "region", None) if user is not None else None
    if region is not None and region.currency == currency:
        locale = region.locale
    return format_money(int(minor), currency=currency, locale=locale)
