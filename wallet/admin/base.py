"""What every wallet admin page shares: read-only models, and running a staff service from a
POST button with its outcome as a message.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from catalog.models import Region
from catalog.money import format_money
from wallet.exceptions import NotFound, WalletError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff may look, never edit: the wallet services are the only writers."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def object_or_404(queryset, object_id):
    """The object of `queryset` with primary key `object_id`, or a 404 — also for an id its
    primary key cannot parse (`abc`, `1.5`), which `get_object_or_404` would let through as
    a 500."""
    try:
        pk = queryset.model._meta.pk.to_python(object_id)
    except ValidationError:
        raise Http404("No such object.") from None
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404("No such object.")
    return obj


def money_display(minor, currency):
    return format_money(minor, currency=currency)


def approval_threshold_display(threshold, *, currency: str) -> str:
    """An approval threshold (a `wallet.services.thresholds` function) as money, for a form's
    explanation; a currency without one says so (the service refuses its requests)."""
    try:
        return money_display(threshold(currency=currency), currency)
    except WalletError:
        return f"{currency}: not set"


def approval_thresholds_display(threshold) -> str:
    """Each region currency's approval threshold: "€4,500.00, £4,000.00, ¥750,000, $5,000.00"."""
    currencies = sorted(set(Region.objects.values_list("currency", flat=True)))
    return ", ".join(approval_threshold_display(threshold, currency=c) for c in currencies)


def post_action(admin_site_view, request, obj_id, action):
    """Run a staff service from a POST and come back to the object with its outcome."""
    if request.method != "POST":
        raise PermissionDenied
    try:
        outcome = action()
    except NotFound as error:
        # A stale page or a hand-made URL: back to the list, where the object would be.
        messages.error(request, f"Refused: {error}")
        return HttpResponseRedirect(
            reverse(admin_site_view.removesuffix("_change") + "_changelist")
        )
    except WalletError as error:
        messages.error(request, f"Refused: {error}")
    else:
        messages.success(request, outcome)
    return HttpResponseRedirect(reverse(admin_site_view, args=[obj_id]))
