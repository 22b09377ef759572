from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from catalog.admin_money import money_display
from catalog.money import format_money
from checkout import (
    admin_giftcards,  # noqa: F401 (registers the bought gift cards' pages)
    admin_payments,  # noqa: F401 (registers the card payments' and reloads' pages)
)
from checkout.admin_promotions import OrderPromotionsAdminMixin
from checkout.admin_refunds import OrderRefundAdminMixin
from checkout.exceptions import CheckoutError
from checkout.forms import ShipForm
from checkout.models import Order, OrderLine, Refund, ShippingRate, VoidedAuthorization
from checkout.services import order_deliver, order_ship
from wallet.admin import ReadOnlyAdmin, ReadOnlyInline


def _money_fields(*names: str, currency_of=lambda obj: obj.currency):
    """Class decorator: an admin display method `<name>_money` for each minor-unit field, so
    every checkout admin page shows "$36.99", never "3699" (one rule for all of them)."""

    def decorate(admin_class):
        for name in names:

            def shown(self, obj, _name=name):
                return money_display(getattr(obj, _name), currency_of(obj))

            shown.short_description = name.replace("_", " ")
            setattr(admin_class, f"{name}_money", shown)
        return admin_class

    return decorate


@_money_fields("unit_price", "line_total", "discount", currency_of=lambda line: line.order.currency)
class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "product_name",
        "quantity",
        "unit_price_money",
        "line_total_money",
        "discount_money",
        "unit_discounts_display",
        "refunded_quantity",
    ]
    readonly_fields = fields

    @admin.display(description="discount of each unit")
    def unit_discounts_display(self, obj):
        """The stored allocation, as money: what a refund of each unit takes off its price."""
        parts = obj.unit_discounts or [0] * obj.quantity
        return ", ".join(money_display(part, obj.order.currency) for part in parts)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


@_money_fields(
    "from_balance",
    "from_card",
    "from_coins",
    "clawed_back",
    currency_of=lambda refund: refund.order.currency,
)
class RefundInline(ReadOnlyInline):
    model = Refund
    fields = [
        "created_at",
        "from_balance_money",
        "from_card_money",
        "from_coins_money",
        "units",
        "clawed_back_money",
        "card_destination",
        "card_status",
        "reason",
        "created_by",
    ]
    readonly_fields = fields


@_money_fields("amount")
class VoidedAuthorizationInline(ReadOnlyInline):
    model = VoidedAuthorization
    fields = ["created_at", "reference", "amount_money", "reason", "status", "error"]
    readonly_fields = fields


@admin.register(Order)
@_money_fields(
    "subtotal",
    "discount",
    "balance_applied",
    "credit_applied",
    "card_charged",
    "balance_refunded",
    "card_refunded",
    "coins_applied",
    "coins_refunded",
    "shipping",
)
class OrderAdmin(OrderRefundAdminMixin, OrderPromotionsAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "user",
        "region",
        "status",
        "payment_status",
        "total_display",
        "created_at",
    ]
    # A failed card payment must be easy to find: by the order's status or the payment's.
    list_filter = ["status", "payment__status", "region", "created_at"]
    search_fields = ["number", "user__email"]
    list_select_related = ["user", "region", "payment"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "number",
        "user",
        "region",
        "currency",
        "status",
        "subtotal_money",
        "discount_money",
        "promotions_display",
        "balance_applied_money",
        "credit_applied_money",
        "card_charged_money",
        "balance_refunded_money",
        "card_refunded_money",
        "coins_applied_money",
        "coins_refunded_money",
        "balance_transfer",
        "coins_transfer",
        "balance_return_transfer",
        "created_at",
        # Shipping as placed, and its progress (docs/interface.md §10).
        "shipping_money",
        "shipping_method",
        "ship_name",
        "ship_line1",
        "ship_line2",
        "ship_city",
        "ship_postal_code",
        "ship_country",
        "ship_phone",
        "carrier",
        "tracking_number",
        "shipped_at",
        "delivered_at",
    ]
    fields = readonly_fields
    exclude = ["idempotency_key"]
    inlines = [OrderLineInline, RefundInline, VoidedAuthorizationInline]
    change_form_template = "admin/checkout/order/change_form.html"

    @admin.display(description="card payment", ordering="payment__status")
    def payment_status(self, obj):
        payment = getattr(obj, "payment", None)
        return payment.get_status_display() if payment is not None else "—"

    @admin.display(description="total")
    def total_display(self, obj):
        return money_display(obj.total, obj.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:order_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="checkout_order_refund",
            ),
            path(
                "<int:order_id>/refund-units/",
                self.admin_site.admin_view(self.refund_units_view),
                name="checkout_order_refund_units",
            ),
            path(
                "<int:order_id>/ship/",
                self.admin_site.admin_view(self.ship_view),
                name="checkout_order_ship",
            ),
            path(
                "<int:order_id>/deliver/",
                self.admin_site.admin_view(self.deliver_view),
                name="checkout_order_deliver",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, **kwargs):
        context["ship_form"] = ShipForm()
        return super().render_change_form(request, context, *args, **kwargs)

    def ship_view(self, request, order_id):
        """POST only: mark the order shipped (carrier, tracking number); audited, e-mailed."""
        order = get_object_or_404(Order, pk=order_id)  # a missing order is a 404 first
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = ShipForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Enter the carrier and the tracking number.")
        else:
            try:
                order_ship(order_id=order.pk, by=request.user, **form.cleaned_data)
            except CheckoutError as error:
                messages.error(request, f"Order {order.number} not shipped: {error}")
            else:
                messages.success(request, f"Order {order.number} marked shipped.")
        return HttpResponseRedirect(reverse("admin:checkout_order_change", args=[order.pk]))

    def deliver_view(self, request, order_id):
        """POST only: mark a shipped order delivered; audited."""
        order = get_object_or_404(Order, pk=order_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            order_deliver(order_id=order.pk, by=request.user)
        except CheckoutError as error:
            messages.error(request, f"Order {order.number} not marked delivered: {error}")
        else:
            messages.success(request, f"Order {order.number} marked delivered.")
        return HttpResponseRedirect(reverse("admin:checkout_order_change", args=[order.pk]))


@admin.register(Refund)
@_money_fields(
    "from_balance", "from_card", "from_coins", currency_of=lambda refund: refund.order.currency
)
class RefundAdmin(ReadOnlyAdmin):
    """Every refund; a card refund the provider failed is listed as needing attention."""

    list_display = [
        "__str__",
        "from_balance_money",
        "from_card_money",
        "from_coins_money",
        "card_destination",
        "card_status",
        "created_by",
        "created_at",
    ]
    list_filter = ["card_status", "card_destination", "created_at"]
    search_fields = ["order__number", "provider_reference"]
    list_select_related = ["order", "created_by"]
    exclude = ["idempotency_key"]


@admin.register(ShippingRate)
class ShippingRateAdmin(admin.ModelAdmin):
    """What each region charges to ship (docs/interface.md §10). Amounts in minor units of the
    region's currency; the list shows them as money."""

    list_display = ["region", "method", "amount_display", "free_from_display", "delivery_days"]
    list_filter = ["region", "method"]
    list_select_related = ["region"]

    @admin.display(description="rate", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, currency=obj.region.currency)

    @admin.display(description="free from", ordering="free_from")
    def free_from_display(self, obj):
        if obj.free_from is None:
            return "never"
        return format_money(obj.free_from, currency=obj.region.currency)
