"""Shoppers' activity reports and the staff audit log."""

from django.contrib import admin
from django.utils.html import format_html

from wallet.admin.base import ReadOnlyAdmin, money_display
from wallet.models import (
    ActivityReport,
    AuditEntry,
)
from wallet.services import (
    activity_report_status_set,
)


@admin.register(ActivityReport)
class ActivityReportAdmin(admin.ModelAdmin):
    """Shoppers' "Report a problem"; staff move the status along."""

    list_display = ["id", "user", "posting_summary", "status", "created_at"]
    list_filter = ["status", "created_at"]
    list_editable = ["status"]
    search_fields = ["user__email", "message"]
    list_select_related = ["user", "posting__transfer"]
    readonly_fields = ["user", "posting", "message", "created_at"]
    fields = ["user", "posting", "message", "status", "created_at"]

    @admin.display(description="activity")
    def posting_summary(self, obj):
        return format_html(
            "{} ({})",
            obj.posting.transfer.description,
            money_display(obj.posting.amount, obj.posting.currency),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        activity_report_status_set(report_id=obj.pk, status=obj.status, by=request.user)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target", "detail"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor__email", "target", "detail"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
