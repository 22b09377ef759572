"""`{% subscribe_box product region %}`: the product page's Subscribe & Save form (docs/interface.md
§14). A template tag, so the catalog's page shows it without catalog importing subscriptions
(imports go catalog ← … ← subscriptions)."""

from django import template

from catalog.models import Product
from subscriptions.models import EVERY_CHOICES, QUANTITY_MAX
from subscriptions.selectors import subscribe_box_get

register = template.Library()


@register.inclusion_tag("subscriptions/_subscribe_form.html", takes_context=True)
def subscribe_box(context, product, region):
    """The form for a subscribable product priced in the region (a sign-in link for a
    visitor); after a refused subscribe, the refusal (`subscribe_error`) and what was chosen
    (`subscribe_values`)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    shown = (
        product.subscribable
        and product.kind == Product.Kind.PHYSICAL
        and getattr(product, "price", None) is not None
    )
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "request": request,
        "product": product,
        "region": region,
        "shown": shown,
        "signed_in": signed_in,
        "box": subscribe_box_get(user=user, product=product) if shown and signed_in else None,
        "error": context.get("subscribe_error"),
        "values": context.get("subscribe_values") or {"quantity": 1, "every": 1},
        "every_choices": EVERY_CHOICES,
        "quantity_max": QUANTITY_MAX,
        "replace_url": context.get("replace_url", ""),
    }
