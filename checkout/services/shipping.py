"""The checkout's shipping choices, kept in the session until the order is placed: the address
(a saved one, or a new one saved to the address book) and the method."""

from django.http import Http404

from accounts.addresses import address_create, address_get_for_user
from accounts.models import Address
from checkout.models import Order
from checkout.selectors import SESSION_ADDRESS, SESSION_SHIPPING


def checkout_address_set(*, user, session, address_id: int | None = None, data=None) -> Address:
    """Ship this checkout to one of the shopper's saved addresses (`address_id`; another
    shopper's, or one of another region, is a 404), or to a new one (`data`: the cleaned
    `AddressForm`), which is saved to the address book (the default if it is the first)."""
    if data is not None:
        address = address_create(user=user, data=data)
    else:
        address = address_get_for_user(user=user, address_id=address_id)
        if address.region_id != user.region_id:
            raise Http404("No such address in your region.")
    session[SESSION_ADDRESS] = address.pk
    return address


def checkout_shipping_set(*, session, method: str) -> None:
    """Choose standard or express for this checkout (priced by checkout/pricing.py)."""
    if method not in (Order.ShippingMethod.STANDARD, Order.ShippingMethod.EXPRESS):
        raise ValueError(f"unknown shipping method {method!r}")
    session[SESSION_SHIPPING] = method
