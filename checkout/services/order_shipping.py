"""What an order records of its shipping when it is placed (docs/interface.md §10)."""

from django.utils import timezone

from checkout.models import Order


def order_shipping_fields(*, quote, address) -> dict:
    """The order's shipping as it is now: the method and a copy of the address (a later edit
    of the address book changes no order). Nothing to ship: delivered at once (digital), or
    once every gift card bought in it is sent or downloaded
    (`order_delivered_when_gift_cards_done`): `placed` until then."""
    if not quote.needs_shipping:
        if quote.gift_cards:
            return {}
        return {"status": Order.Status.DELIVERED, "delivered_at": timezone.now()}
    return {
        "shipping_method": quote.shipping_method,
        "ship_name": address.full_name,
        "ship_line1": address.line1,
        "ship_line2": address.line2,
        "ship_city": address.city,
        "ship_postal_code": address.postal_code,
        "ship_country": address.region_id,
        "ship_phone": address.phone,
    }
