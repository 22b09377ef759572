import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from catalog.admin_money import money_display
from catalog.money import format_money
from checkout import (
    admin_giftcards,  # noqa: F401 (registers the bought gift cards' pages)
    admin_payments,  # noqa: F401 (registers the card payments' and reloads' pages)
)
from checkout.admin_promotions import OrderPromotionsAdminMixin
from checkout.exceptions import CheckoutError
from checkout.forms import RefundForm, ShipForm
from checkout.models import Order, OrderLine, Refund, ShippingRate, VoidedAuthorization
from checkout.services import order_deliver, order_refund, order_ship
from checkout.services.giftcard_refunds import order_gift_cards_read
from promotions.selectors import giftcard_bonus_withheld_estimate
from wallet.admin import ReadOnlyAdmin, ReadOnlyInline
from wallet.admin.base import confirmation_stage
from wallet.exceptions import WalletError


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
    "from_balance", "from_card", "clawed_back", currency_of=lambda refund: refund.order.currency
)
class RefundInline(ReadOnlyInline):
    model = Refund
    fields = [
        "created_at",
        "from_balance_money",
        "from_card_money",
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
    "shipping",
)
class OrderAdmin(OrderPromotionsAdminMixin, admin.ModelAdmin):
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
        "balance_transfer",
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

    def refund_view(self, request, order_id):
        """Refund in full or in part, per source (balance part, card part), in two steps as
        the balance adjustment: the form, then a page that states the refund in money
        ("Refund $5.00 of the balance part … of order CP-…?") with Confirm and Back; only the
        confirmed POST calls `order_refund`. Every field and the idempotency key ride along
        both steps as hidden inputs, so a replayed confirm lands on the same refund."""
        if not request.user.has_perm("checkout.refund_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        left_balance = order.balance_applied - order.balance_refunded
        left_card = order.card_left
        limits = {"currency": order.currency, "left_balance": left_balance, "left_card": left_card}
        reserved = order_gift_cards_read(order=order).reserved
        if request.method == "POST":
            if "confirm" in request.POST:
                # The service checks what is left, under the order's lock: a replayed confirm
                # of a refund that took all that was left must land on that refund, not on
                # "more than is left".
                limits |= {"left_balance": None, "left_card": None}
            form = RefundForm(request.POST, **limits)
        else:
            form = RefundForm(initial={"idempotency_key": uuid.uuid4().hex}, **limits)
        stage = confirmation_stage(request, form)
        if stage == "post":
            done = self._refund_post(request, order, form)
            if done is not None:
                return done
        confirming = stage == "confirm"
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund order {order.number}",
            "order": order,
            "form": form,
            "confirming": confirming,
            "left_balance": money_display(left_balance, order.currency),
            "left_card": money_display(left_card, order.currency),
            # The card part its gift cards still standing paid: only their lines (or the
            # refund of everything left) give it back (checkout/services/giftcard_refunds.py).
            "gift_cards_part": money_display(reserved, order.currency) if reserved else "",
            "opts": self.model._meta,
        }
        if confirming:
            context |= {
                "title": f"Confirm the refund of order {order.number}",
                "question": _refund_question(order, form.amounts, form.cleaned_data),
            }
        return TemplateResponse(request, "admin/checkout/order/refund.html", context)

    def _refund_post(self, request, order, form):
        """The confirmed refund through `order_refund`: a redirect to the order with the
        amounts and what is left, or None with the refusal on the form."""
        data = form.cleaned_data
        try:
            refund = order_refund(
                order_id=order.pk,
                from_balance=form.amounts["from_balance"],
                from_card=form.amounts["from_card"],
                card_to_balance=data["card_to_balance"],
                reason=data["reason"],
                idempotency_key=f"admin-refund:{data['idempotency_key']}",
                by=request.user,
            )
        except (CheckoutError, WalletError) as error:
            # A refusal is the staff member's to read, on the page they are on.
            form.add_error(None, f"Refused: {error}")
            messages.error(request, f"Refund of order {order.number} refused: {error}")
            return None
        order.refresh_from_db()
        parts = _refund_parts(
            order,
            {"from_balance": refund.from_balance, "from_card": refund.from_card},
            card_to_balance=refund.card_destination == Refund.Destination.BALANCE,
        )
        left_balance = money_display(order.balance_applied - order.balance_refunded, order.currency)
        left_card = money_display(order.card_left, order.currency)
        messages.success(
            request,
            f"Refund of order {order.number} posted: {parts}. Left to refund: {left_balance}"
            f" of the balance part, {left_card} of the card part.",
        )
        return HttpResponseRedirect(reverse("admin:checkout_order_change", args=[order.pk]))

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


def _refund_parts(order, amounts: dict[str, int], *, card_to_balance: bool) -> str:
    """ "$5.00 of the balance part (to the balance) and $7.00 of the card part (to the
    card)", naming only the parts that move, for the confirmation and the message."""
    parts = []
    if amounts["from_balance"]:
        money = money_display(amounts["from_balance"], order.currency)
        parts.append(f"{money} of the balance part (to the balance)")
    if amounts["from_card"]:
        money = money_display(amounts["from_card"], order.currency)
        where = "the balance" if card_to_balance else "the card"
        parts.append(f"{money} of the card part (to {where})")
    return " and ".join(parts)


def _refund_question(order, amounts: dict[str, int], data: dict) -> str:
    """The confirmation's question: what moves where, from which order, and why."""
    parts = _refund_parts(order, amounts, card_to_balance=data["card_to_balance"])
    gifts = order_gift_cards_read(order=order)
    withheld = 0
    if gifts.standing and amounts["from_card"] >= order.card_left:  # everything left
        withheld = giftcard_bonus_withheld_estimate(
            order_number=order.number, gift_card_total_left=0
        )
    kept = (
        f" ({money_display(withheld, order.currency)} of it kept back: the gift card bonus "
        "credit the shopper already spent)"
        if withheld
        else ""
    )
    return f"Refund {parts}{kept} of order {order.number}? Reason: {data['reason']}"


@admin.register(Refund)
@_money_fields("from_balance", "from_card", currency_of=lambda refund: refund.order.currency)
class RefundAdmin(ReadOnlyAdmin):
    """Every refund; a card refund the provider failed is listed as needing attention."""

    list_display = [
        "__str__",
        "from_balance_money",
        "from_card_money",
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
