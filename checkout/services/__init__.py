"""Every write of checkout, by concern; this package only re-exports.

- `cart`: the cart and the checkout switches
- `orders`: placing an order and paying for it
- `refunds`: refunds per source, cancellations
- `refund_units`: refunds of units, priced on the stored per-unit discounts, with claw-back
- `fulfilment`: shipped and delivered
- `shipping`: the address and the method chosen at checkout
"""

from checkout.services.cart import (
    cart_add,
    cart_merge_on_login,
    cart_update,
    checkout_use_balance_set,
)
from checkout.services.fulfilment import order_deliver, order_ship
from checkout.services.orders import order_place
from checkout.services.refund_units import order_refund_units
from checkout.services.refunds import order_cancel, order_refund
from checkout.services.shipping import checkout_address_set, checkout_shipping_set

__all__ = [
    "cart_add",
    "cart_merge_on_login",
    "cart_update",
    "checkout_address_set",
    "checkout_shipping_set",
    "checkout_use_balance_set",
    "order_cancel",
    "order_deliver",
    "order_place",
    "order_refund",
    "order_refund_units",
    "order_ship",
]
