"""Every write of checkout, by concern; this package only re-exports.

- `cart`: the cart and the checkout switches
- `orders`: placing an order and paying for it
- `refunds`: refunds per source
"""

from checkout.services.cart import (
    cart_add,
    cart_merge_on_login,
    cart_update,
    checkout_use_balance_set,
)
from checkout.services.orders import order_place
from checkout.services.refunds import order_refund

__all__ = [
    "cart_add",
    "cart_merge_on_login",
    "cart_update",
    "checkout_use_balance_set",
    "order_place",
    "order_refund",
]
