"""Checkout's models, by concern; this package only re-exports.

- `orders`: carts, orders, their lines and shipping rates
- `payments`: card payments, released holds and refunds
- `giftcards`: gift cards bought in the shop: the cart's, the order's, and their delivery
- `reloads`: reloading a balance by card, saved cards and auto-reload
"""

from checkout.models.giftcards import CartGiftCard, Delivery, GiftCardDesign, OrderGiftCard
from checkout.models.orders import MAX_QUANTITY, Cart, CartLine, Order, OrderLine, ShippingRate
from checkout.models.payments import Payment, Refund, VoidedAuthorization
from checkout.models.reloads import AutoReload, Reload, SavedCard

__all__ = [
    "MAX_QUANTITY",
    "AutoReload",
    "Cart",
    "CartGiftCard",
    "CartLine",
    "Delivery",
    "GiftCardDesign",
    "Order",
    "OrderGiftCard",
    "OrderLine",
    "Payment",
    "Refund",
    "Reload",
    "SavedCard",
    "ShippingRate",
    "VoidedAuthorization",
]
