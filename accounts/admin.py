from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.exceptions import RegionChangeRefused
from accounts.models import User
from accounts.services import user_region_change
from catalog.models import Region


class UserRegionChangeForm(forms.Form):
    """Staff choose a shopper's new region; `user_region_change` decides whether it may."""

    region = forms.ModelChoiceField(
        queryset=Region.objects.all(),
        empty_label=None,
        label="New region",
        error_messages={"invalid_choice": "Choose one of the listed regions."},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.exclude(pk=user.region_id)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "region", "is_staff", "is_active", "date_joined"]
    list_filter = ["region", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["region"]
    # The region is not a field of the change form: changing it goes through its own page and
    # `user_region_change`, which refuses while the shopper holds anything in the old region
    # and audits the change. It is chosen freely only when the account is created.
    readonly_fields = ["region_display"]
    fieldsets = (
        (None, {"fields": ("email", "password", "region_display")}),
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

    @admin.display(description="region")
    def region_display(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        url = reverse("admin:accounts_user_region_change", args=[quote(obj.pk)])
        return format_html(
            '{} <a href="{}" class="button" data-testid="region-change-link">Change region…</a>',
            obj.region,
            url,
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/region/",
                self.admin_site.admin_view(self.region_change_view),
                name="accounts_user_region_change",
            ),
            *super().get_urls(),
        ]

    def region_change_view(self, request, object_id):
        """Ask for the new region (the confirmation step), then call `user_region_change` once;
        a refusal is shown as a message with its reasons and changes nothing."""
        user = self.get_object(request, unquote(object_id))  # None for a malformed id too
        if user is None:
            raise Http404("No such user.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = UserRegionChangeForm(request.POST or None, user=user)
        if request.method == "POST" and form.is_valid():
            old, new = user.region, form.cleaned_data["region"]
            try:
                user_region_change(user=user, region=new, by=request.user)
            except RegionChangeRefused as error:
                messages.error(
                    request, f"{user} stays in {old}: the region cannot change while {error}."
                )
            else:
                messages.success(request, f"{user} moved from {old} to {new}.")
                return HttpResponseRedirect(
                    reverse("admin:accounts_user_change", args=[quote(user.pk)])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change the region of {user}",
            "subject": user,
            "form": form,
            "adminform": helpers.AdminForm(form, [(None, {"fields": ["region"]})], {}),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/user/region_change.html", context)
