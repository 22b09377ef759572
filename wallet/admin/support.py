"""Messages sent through the contact form of /help/: staff read them and move them along."""

from django.contrib import admin

from wallet.models import SupportRequest


@admin.register(SupportRequest)
class SupportRequestAdmin(admin.ModelAdmin):
    """The contact form's messages, newest first. Staff answer by e-mail and set the status;
    what the shopper wrote is kept as sent."""

    list_display = ["id", "created_at", "name", "email", "topic", "status", "user"]
    list_filter = ["status", "topic", "created_at"]
    list_editable = ["status"]
    search_fields = ["name", "email", "message", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "email", "topic", "message", "created_at"]
    fields = ["created_at", "user", "name", "email", "topic", "message", "status"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
