from django.contrib import admin

from wallet.models import Account, ActivityReport, GiftCard, GiftCardBatch, Posting, Transfer


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is written only by the wallet services: staff may look, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["id", "transfer", "amount", "balance_after", "currency"]
    readonly_fields = fields
    extra = 0
    ordering = ["-id"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "user", "currency", "balance", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["user__email"]
    list_select_related = ["user"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "description", "created_at", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["description", "idempotency_key"]
    list_select_related = ["created_by"]
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["id", "transfer", "account", "amount", "balance_after", "currency"]
    list_filter = ["currency", "account__kind"]
    search_fields = ["account__user__email"]
    list_select_related = ["transfer", "account__user"]


@admin.register(GiftCardBatch)
class GiftCardBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "region", "currency", "status", "created_by", "created_at"]
    list_filter = ["status", "region"]
    search_fields = ["name"]


@admin.register(GiftCard)
class GiftCardAdmin(ReadOnlyAdmin):
    list_display = ["id", "masked_code", "amount", "currency", "region", "status", "expires_on"]
    list_filter = ["status", "region", "expires_on"]
    exclude = ["code_hash"]
    list_select_related = ["region"]


@admin.register(ActivityReport)
class ActivityReportAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "posting", "status", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["user__email", "message"]
    list_select_related = ["user", "posting__account__user"]
    readonly_fields = ["user", "posting", "message", "created_at"]
    fields = ["user", "posting", "message", "status", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
