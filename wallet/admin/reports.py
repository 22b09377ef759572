"""Shoppers' activity reports and the staff audit log."""

from django.contrib import admin, messages
from django.utils.html import format_html

from wallet.admin.base import ReadOnlyAdmin, ledger_amount_display, money_in_text
from wallet.exceptions import WalletError
from wallet.models import (
    ActivityReport,
    AuditEntry,
)
from wallet.services import (
    activity_report_reply,
    activity_report_status_set,
)


@admin.register(ActivityReport)
class ActivityReportAdmin(admin.ModelAdmin):
    """Shoppers' "Report a problem"; staff reply (the shopper reads it on the report's page)
    and move the status along."""

    list_display = ["id", "user", "posting_summary", "status", "created_at", "replied_at"]
    list_filter = ["status", "created_at", "replied_at"]
    list_editable = ["status"]
    search_fields = ["user__email", "message"]
    list_select_related = ["user", "posting__transfer"]
    readonly_fields = ["user", "posting", "message", "created_at", "replied_at", "replied_by"]
    fields = [
        *("user", "posting", "message", "created_at"),
        *("reply", "status", "replied_at", "replied_by"),
    ]

    @admin.display(description="activity")
    def posting_summary(self, obj):
        return format_html(
            "{} ({})",
            obj.posting.transfer.description,
            ledger_amount_display(obj.posting.amount, obj.posting.currency, signed=True),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Staff change the reply and the status here, each through a service (which checks
        # the permission and audits it). A refusal becomes a message, never a 500; the stock
        # "changed successfully" message and history entry are then left out.
        try:
            if "reply" in getattr(form, "changed_data", ()):
                activity_report_reply(
                    report_id=obj.pk, reply=obj.reply, status=obj.status, by=request.user
                )
            else:
                activity_report_status_set(report_id=obj.pk, status=obj.status, by=request.user)
        except WalletError as error:
            request._wallet_refusals = getattr(request, "_wallet_refusals", 0) + 1
            messages.error(request, f"Report #{obj.pk} refused: {error}")

    def log_change(self, request, obj, message):
        if getattr(request, "_wallet_refusals", 0):
            return None
        return super().log_change(request, obj, message)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "_wallet_refusals", 0) and level == messages.SUCCESS:
            return
        super().message_user(request, message, level, *args, **kwargs)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target", "detail_display"]
    readonly_fields = ["created_at", "actor", "action", "target", "detail_display"]
    fields = readonly_fields

    @admin.display(description="detail")
    def detail_display(self, obj):
        # Stored as "12.34 USD credited: …"; staff read "$12.34 credited: …".
        return money_in_text(obj.detail)

    list_filter = ["action", "created_at"]
    search_fields = ["actor__email", "target", "detail"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
