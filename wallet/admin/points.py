"""Reward points as staff look at them: what each order earned and when it is released, and the
points owed after refunds (docs/points.md). Read-only: the points services are the only
writers; staff change a shopper's points through an adjustment (wallet/admin/ledger.py)."""

from django.contrib import admin
from django.db.models import F

from wallet.admin.base import ReadOnlyAdmin, ledger_amount_display
from wallet.models import PointsEarning, PointsShortfall
from wallet.units import POINTS


def _points(value) -> str:
    return ledger_amount_display(value, POINTS)


class ReleasedFilter(admin.SimpleListFilter):
    """Pending (still in the return window) or released (available to the shopper)."""

    title = "status"
    parameter_name = "released"

    def lookups(self, request, model_admin):
        return [("no", "Pending"), ("yes", "Released")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(released_at__isnull=False)
        return queryset


class SettledFilter(admin.SimpleListFilter):
    """Points still owed, or taken back in full from later releases."""

    title = "status"
    parameter_name = "owed"

    def lookups(self, request, model_admin):
        return [("yes", "Still owed"), ("no", "Settled")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(settled__lt=F("points"))
        if self.value() == "no":
            return queryset.filter(settled__gte=F("points"))
        return queryset


@admin.register(PointsEarning)
class PointsEarningAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "user",
        "points_display",
        "reversed_display",
        "status_display",
        "release_at",
        "released_at",
    ]
    list_display_links = ["reference"]
    list_filter = [ReleasedFilter, "currency", "release_at"]
    search_fields = ["user__email", "reference"]
    list_select_related = ["user"]
    readonly_fields = [
        "reference",
        "user",
        "currency",
        "points_display",
        "reversed_display",
        "kept_display",
        "status_display",
        "release_at",
        "released_at",
        "earn_transfer",
        "release_transfer",
        "created_at",
    ]
    fields = readonly_fields
    date_hierarchy = "release_at"

    @admin.display(description="points earned", ordering="points")
    def points_display(self, obj):
        return _points(obj.points)

    @admin.display(description="reversed by refunds", ordering="reversed")
    def reversed_display(self, obj):
        return _points(obj.reversed)

    @admin.display(description="points kept")
    def kept_display(self, obj):
        return _points(obj.kept)

    @admin.display(description="status", ordering="released_at")
    def status_display(self, obj):
        return "Pending" if obj.is_pending else "Released"


@admin.register(PointsShortfall)
class PointsShortfallAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "user",
        "points_display",
        "settled_display",
        "owed_display",
        "created_at",
    ]
    list_display_links = ["reference"]
    list_filter = [SettledFilter, "created_at"]
    search_fields = ["user__email", "reference"]
    list_select_related = ["user"]
    readonly_fields = [
        "reference",
        "user",
        "points_display",
        "settled_display",
        "owed_display",
        "created_at",
    ]
    fields = readonly_fields

    @admin.display(description="points taken back", ordering="points")
    def points_display(self, obj):
        return _points(obj.points)

    @admin.display(description="settled from later points", ordering="settled")
    def settled_display(self, obj):
        return _points(obj.settled)

    @admin.display(description="still owed")
    def owed_display(self, obj):
        return _points(obj.owed)
