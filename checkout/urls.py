from django.urls import path

from checkout import views

app_name = "checkout"

urlpatterns = [
    path("cart/", views.CartView.as_view(), name="cart"),
    path("cart/add/", views.CartAddView.as_view(), name="cart_add"),
    path("cart/update/", views.CartUpdateView.as_view(), name="cart_update"),
    path("checkout/", views.CheckoutView.as_view(), name="checkout"),
    path("checkout/code/", views.CheckoutCodeView.as_view(), name="code"),
    path("checkout/balance/", views.CheckoutBalanceView.as_view(), name="balance"),
    path("checkout/place-order/", views.PlaceOrderView.as_view(), name="place_order"),
    path("orders/", views.OrderListView.as_view(), name="orders"),
    path("orders/<str:number>/", views.OrderDetailView.as_view(), name="order"),
]
