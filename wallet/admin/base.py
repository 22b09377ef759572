"""What every wallet admin page shares: read-only models, and running a staff service from a
POST button with its outcome as a message.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

# Re-exported: every wallet admin module formats money through this one helper.
from catalog.admin_money import MINUS, STAFF_LOCALE, money_display, money_in_text  # noqa: F401
from catalog.models import Region
from wallet.exceptions import NotFound, WalletError
from wallet.units import UNITS, format_units


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


class WaitingForMeFilter(admin.SimpleListFilter):
    """`?waiting_for_me=1`: what the signed-in staff member may approve — waiting, asked for
    by someone else. The admin index links here with the count. The model admin says which
    rows by `waiting_for(request, queryset)`."""

    title = "approval"
    parameter_name = "waiting_for_me"

    def lookups(self, request, model_admin):
        return [("1", "Waiting for my approval")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return self._model_admin.waiting_for(request, queryset)
        return queryset

    def __init__(self, request, params, model, model_admin):
        self._model_admin = model_admin
        super().__init__(request, params, model, model_admin)


def ledger_amount_display(amount, currency, *, signed: bool = False) -> str:
    """Any ledger amount for an admin page: money as `money_display` shows it, points and coins
    in words ("1,250 points", "+500 coins", the minus sign before "75 points"), never a
    points figure dressed as money."""
    if currency not in UNITS or amount is None:
        return money_display(amount, currency, signed=signed)
    text = format_units(abs(int(amount)), unit=currency, locale=STAFF_LOCALE)
    if amount < 0:
        return MINUS + text
    return f"+{text}" if signed and amount > 0 else text


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


def approval_threshold_display(threshold, *, currency: str) -> str:
    """An approval threshold (a `wallet.services.thresholds` function) as money (or points and
    coins), for a form's explanation; a currency without one says so (the service refuses its
    requests)."""
    try:
        return ledger_amount_display(threshold(currency=currency), currency)
    except WalletError:
        return f"{currency}: not set"


def approval_thresholds_display(threshold) -> str:
    """Each region currency's approval threshold: "€4,500.00, £4,000.00, ¥750,000, $5,000.00"."""
    currencies = sorted(set(Region.objects.values_list("currency", flat=True)))
    return ", ".join(approval_threshold_display(threshold, currency=c) for c in currencies)


def admin_form(form, *, name: str | None = None, description: str = "") -> helpers.AdminForm:
    """`form` as the admin's own fieldset (labels, help, errors tied to their inputs), for a
    custom admin page: every field of the form in one fieldset, in the form's order."""
    fieldset = {"fields": list(form.fields), "description": description}
    return helpers.AdminForm(form, [(name, fieldset)], {})


def confirmation_stage(request, form) -> str:
    """Where a two-step staff form (adjust a balance, refund an order) stands: "edit" — show
    the form (a GET, the Back button, or errors); "confirm" — valid, ask before posting; "post"
    — valid and confirmed. Only "post" may call the service."""
    if request.method != "POST" or "back" in request.POST or not form.is_valid():
        return "edit"
    return "post" if "confirm" in request.POST else "confirm"


def post_action(model_admin, request, obj_id, action):
    """Run a staff service from a POST and come back to the object (of `model_admin`'s model)
    with its outcome. An id no object has is a 404 first, whatever the method (docs/interface.md
    §9); then anything but a POST is refused (403)."""
    object_or_404(model_admin.model._default_manager.all(), obj_id)
    if request.method != "POST":
        raise PermissionDenied
    meta = model_admin.model._meta
    admin_site_view = f"admin:{meta.app_label}_{meta.model_name}_change"
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
