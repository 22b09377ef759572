from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "region", "is_staff", "is_active", "date_joined"]
    list_filter = ["region", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["region"]
    fieldsets = (
        (None, {"fields": ("email", "password", "region")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "region", "password1", "password2")}),
    )
