"""Staff pages for card payments (registered from checkout/admin.py): orders' card payments,
holds released without a capture, every reload by card with its status and the provider's
reference, shoppers' auto-reload settings and saved cards. Read-only: money moves only through
the services (checkout/services/), never by an edit here; a saved card shows its last 4 digits,
never its token.
"""

from django.contrib import admin

from catalog.admin_money import money_display
from checkout.models import AutoReload, Payment, Reload, SavedCard, VoidedAuthorization
from wallet.admin import ReadOnlyAdmin


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["order", "provider", "reference", "card_last4", "amount_display", "status"]
    list_filter = ["provider", "status", "currency"]
    search_fields = ["reference", "order__number"]
    list_select_related = ["order"]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)


@admin.register(VoidedAuthorization)
class VoidedAuthorizationAdmin(ReadOnlyAdmin):
    """Card holds released (or to be released) without a capture; a failed void needs a
    person to release the hold at the provider."""

    list_display = ["reference", "order", "amount_display", "reason", "status", "created_at"]
    list_filter = ["status", "reason", "provider", "currency"]
    search_fields = ["reference", "order__number"]
    list_select_related = ["order"]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)


@admin.register(Reload)
class ReloadAdmin(ReadOnlyAdmin):
    list_display = ["pk", "user", "kind", "amount_display", "status", "card_last4", "created_at"]
    list_filter = ["kind", "status", "currency", "created_at"]
    search_fields = ["user__email", "reference", "order__number"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fields = [
        "user",
        "kind",
        "amount_display",
        "status",
        "error",
        "provider",
        "reference",
        "card_last4",
        "order",
        "transfer",
        "idempotency_key",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    raw_id_fields = ["user", "order", "transfer"]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)


@admin.register(AutoReload)
class AutoReloadAdmin(ReadOnlyAdmin):
    list_display = ["user", "enabled", "threshold_display", "amount_display", "card", "updated_at"]
    list_filter = ["enabled", "currency"]
    search_fields = ["user__email"]
    list_select_related = ["user", "card"]
    fields = [
        "user",
        "enabled",
        "threshold_display",
        "amount_display",
        "card",
        "disabled_reason",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="threshold", ordering="threshold")
    def threshold_display(self, obj):
        return money_display(obj.threshold, obj.currency)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)


@admin.register(SavedCard)
class SavedCardAdmin(ReadOnlyAdmin):
    list_display = ["user", "card_display", "provider", "created_at"]
    search_fields = ["user__email", "card_last4"]
    list_select_related = ["user"]
    fields = ["user", "card_display", "provider", "created_at"]
    readonly_fields = fields

    @admin.display(description="card")
    def card_display(self, obj):
        return f"…{obj.card_last4}"
