from django.urls import path, register_converter
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from checkout import (
    code_views,
    coin_views,
    giftcard_views,
    order_views,
    print_views,
    reload_views,
    views,
)
from checkout.checkout_coins_views import CheckoutCoinsView


class OrderNumberConverter:
    """An order number as the shop writes them (`CP-` and 8 symbols; up to the column's 20
    letters, digits and dashes): anything else, a NUL byte included, is a 404 before the
    database sees it (PostgreSQL refuses NUL in a string, which would be a 500)."""

    regex = "[A-Za-z0-9-]{1,20}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrderNumberConverter, "order_number")

app_name = "checkout"

# Codes and card numbers never reach an error report (`sensitive_post_parameters`), and pages
# that show a balance, a code box or an order are never cached (`never_cache` sends
# `Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`).
urlpatterns = [
    path("cart/", never_cache(views.CartView.as_view()), name="cart"),
    path("cart/add/", views.CartAddView.as_view(), name="cart_add"),
    path("cart/update/", views.CartUpdateView.as_view(), name="cart_update"),
    path("checkout/", never_cache(views.CheckoutView.as_view()), name="checkout"),
    path(
        "checkout/code/",
        never_cache(sensitive_post_parameters("code")(code_views.CheckoutCodeView.as_view())),
        name="code",
    ),
    path(
        "checkout/code/remove/",
        sensitive_post_parameters("code")(code_views.CheckoutCodeRemoveView.as_view()),
        name="code_remove",
    ),
    path("checkout/balance/", views.CheckoutBalanceView.as_view(), name="balance"),
    path("checkout/coins/", CheckoutCoinsView.as_view(), name="coins_switch"),
    path("checkout/address/", views.CheckoutAddressView.as_view(), name="address"),
    path("checkout/shipping/", views.CheckoutShippingView.as_view(), name="shipping"),
    path(
        "checkout/place-order/",
        never_cache(sensitive_post_parameters("card_number")(views.PlaceOrderView.as_view())),
        name="place_order",
    ),
    # Coin packs (docs/interface.md §13): never cached, the page shows the shopper's coins.
    path("coins/", never_cache(coin_views.CoinPackListView.as_view()), name="coins"),
    # Buying gift cards, printing one, reloading a balance (docs/interface.md §12).
    path(
        "gift-cards/buy/",
        never_cache(giftcard_views.GiftCardBuyView.as_view()),
        name="giftcard_buy",
    ),
    path(
        "orders/<order_number:number>/gift-cards/<int:gift_card_id>/print/",
        never_cache(print_views.GiftCardPrintView.as_view()),
        name="giftcard_print",
    ),
    path(
        "wallet/reload/",
        never_cache(sensitive_post_parameters("card_number")(reload_views.ReloadView.as_view())),
        name="reload",
    ),
    path(
        "wallet/auto-reload/",
        never_cache(
            sensitive_post_parameters("card_number")(reload_views.AutoReloadView.as_view())
        ),
        name="auto_reload",
    ),
    path("orders/", never_cache(order_views.OrderListView.as_view()), name="orders"),
    # Before the order page: "library" would read as an order number.
    path("orders/library/", never_cache(order_views.LibraryView.as_view()), name="library"),
    path(
        "orders/<order_number:number>/",
        never_cache(order_views.OrderDetailView.as_view()),
        name="order",
    ),
]
