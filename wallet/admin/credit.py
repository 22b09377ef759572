"""Promotional credit lots: read-only. Credit moves only through the wallet's credit services
(grant, spend, return, expiry), each with its transfer."""

from django.contrib import admin

from wallet.admin.base import ReadOnlyAdmin, ReadOnlyInline, money_display
from wallet.models import CreditLot, CreditLotSpend


class CreditLotSpendInline(ReadOnlyInline):
    model = CreditLotSpend
    fields = ["transfer", "amount_display", "returned_display"]
    readonly_fields = fields
    max_num = 0
    verbose_name = "spend from this lot"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transfer", "lot")

    @admin.display(description="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.lot.currency)

    @admin.display(description="returned")
    def returned_display(self, obj):
        return money_display(obj.returned, obj.lot.currency)


@admin.register(CreditLot)
class CreditLotAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "user",
        "amount_display",
        "remaining_display",
        "expires_on",
        "reference",
        "created_at",
    ]
    list_filter = ["currency", "expires_on"]
    search_fields = ["user__email", "reference"]
    list_select_related = ["user"]
    fields = [
        "user",
        "amount_display",
        "remaining_display",
        "expires_on",
        "expires_at",
        "category_ids",
        "description",
        "reference",
        "grant_transfer",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [CreditLotSpendInline]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    @admin.display(description="left", ordering="remaining")
    def remaining_display(self, obj):
        return money_display(obj.remaining, obj.currency)
