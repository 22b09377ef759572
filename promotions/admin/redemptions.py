"""Redemptions in the staff admin: read-only (written only inside an order's transaction)."""

from django.contrib import admin

from promotions.models import PromotionRedemption
from wallet.admin.base import ReadOnlyAdmin, money_display


@admin.register(PromotionRedemption)
class PromotionRedemptionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "promotion",
        "order_number",
        "user",
        "amount_display",
        "clawed_back_display",
        "released_at",
        "created_at",
    ]
    list_display_links = ["id", "promotion"]
    list_filter = ["currency", ("released_at", admin.EmptyFieldListFilter), "promotion__kind"]
    search_fields = ["order_number", "promotion__slug", "promotion__code", "user__email"]
    list_select_related = ["promotion", "user"]
    readonly_fields = [
        "promotion",
        "code",
        "user",
        "order_number",
        "amount_display",
        "shipping_amount_display",
        "clawed_back_display",
        "allocation",
        "once_per_shopper",
        "single_use_code",
        "released_at",
        "created_at",
    ]
    fields = readonly_fields

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    @admin.display(description="of it, shipping")
    def shipping_amount_display(self, obj):
        return money_display(obj.shipping_amount, obj.currency)

    @admin.display(description="clawed back")
    def clawed_back_display(self, obj):
        return money_display(obj.clawed_back, obj.currency) if obj.clawed_back else "—"
