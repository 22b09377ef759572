"""Subscribe & Save as staff see it (docs/subscriptions.md): every subscription, found by the
shopper's e-mail, the product or its id, filtered by status, pause reason, region and when its
next delivery is due; and the run history, each period with its order or why it was not
placed.

Read-only, like the wallet's and the checkout's pages: a subscription is the shopper's promise
to be charged, so only the shopper (through the subscriptions services) and the run change it.
No staff action pauses or cancels one here: the services take the shopper as the actor (a
pause by staff would read "paused by the shopper" and no audit entry would say who did it).
"""

import datetime

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from catalog.admin_money import money_display
from catalog.models import Region
from catalog.regions import region_today
from subscriptions.models import Subscription, SubscriptionPeriod
from wallet.admin import ReadOnlyAdmin, ReadOnlyInline

# "Next 7 days": tomorrow up to and including a week from today ("past 7 days" likewise).
SOON_DAYS = 7


def _region_todays() -> dict[str, datetime.date]:
    """Today in each region (one query for the handful of regions): a subscription's dates are
    days in the region it was started in, so "due today" differs by a day between Tokyo and
    New York for some hours."""
    return {region.code: region_today(region) for region in Region.objects.only("time_zone")}


class _RegionDayFilter(admin.SimpleListFilter):
    """Rows by a date field counted in each row's own region: one condition per region with
    that region's today (a handful of regions, so a handful of ORs, and one query for the
    regions whatever the rows). Subclasses name the fields and the buckets."""

    date_field = region_field = ""

    @staticmethod
    def buckets(field: str, today: datetime.date) -> dict[str, tuple[str, Q]]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        any_day = datetime.date(2000, 1, 1)  # only the labels are read
        return [(key, label) for key, (label, _) in self.buckets("d", any_day).items()]

    def queryset(self, request, queryset):
        value = self.value()
        if value not in dict(self.lookups(request, None)):
            return queryset  # no choice, or one from a hand-made URL: the whole list
        condition = Q(pk__in=[])  # no region, no row
        for code, today in _region_todays().items():
            dates = self.buckets(self.date_field, today)[value][1]
            condition |= Q(**{self.region_field: code}) & dates
        return queryset.filter(condition)


class DueFilter(_RegionDayFilter):
    """When the next delivery is due: overdue (before today: an active one waits for a
    payment retry or a run), today, the next 7 days, later. By date only: combine it with the
    status filter (a paused or cancelled subscription's next date is where it stopped)."""

    title = "next delivery"
    parameter_name = "due"
    date_field, region_field = "next_date", "region_id"

    @staticmethod
    def buckets(field, today):
        week = today + datetime.timedelta(days=SOON_DAYS)
        return {
            "overdue": ("Overdue (before today)", Q(**{f"{field}__lt": today})),
            "today": ("Due today", Q(**{field: today})),
            "soon": (
                f"Next {SOON_DAYS} days",
                Q(**{f"{field}__gt": today, f"{field}__lte": week}),
            ),
            "later": ("Later", Q(**{f"{field}__gt": week})),
        }


class PeriodDueFilter(_RegionDayFilter):
    """The run history by due date: today, the past 7 days, earlier, or after today (a skip
    recorded ahead of its date)."""

    title = "due (in its region)"
    parameter_name = "due"
    date_field, region_field = "due_date", "subscription__region_id"

    @staticmethod
    def buckets(field, today):
        week_ago = today - datetime.timedelta(days=SOON_DAYS)
        return {
            "today": ("Today", Q(**{field: today})),
            "past": (
                f"Past {SOON_DAYS} days",
                Q(**{f"{field}__gte": week_ago, f"{field}__lt": today}),
            ),
            "earlier": ("Earlier", Q(**{f"{field}__lt": week_ago})),
            "ahead": ("After today", Q(**{f"{field}__gt": today})),
        }


def _order_link(period) -> str:
    """The period's order as a link to its admin page (its number), or "—"."""
    if period.order_id is None:
        return "—"
    url = reverse("admin:checkout_order_change", args=[period.order_id])
    return format_html('<a href="{}">{}</a>', url, period.order.number)


class SubscriptionPeriodInline(ReadOnlyInline):
    """The subscription's run history, newest first: each period's order or failure."""

    model = SubscriptionPeriod
    fields = ["index", "due_date", "status", "order_link", "attempts", "message"]
    readonly_fields = fields
    verbose_name = "delivery"
    verbose_name_plural = "deliveries (run history)"

    @admin.display(description="order")
    def order_link(self, obj):
        return _order_link(obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order")


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "shopper",
        "product",
        "quantity",
        "every",
        "status",
        "pause_reason",
        "next_date",
        "failed_attempts",
        "created_at",
    ]
    list_display_links = ["id", "shopper"]
    # A subscription that keeps failing must be easy to find: paused for a payment, or active
    # and overdue (its period waits for the next retry).
    list_filter = ["status", "pause_reason", "region", DueFilter]
    # `id__exact`: a number finds that subscription; other words skip it (admin validates
    # an exact lookup's term against the field), so "coffee" is never an error.
    search_fields = ["id__exact", "user__email", "product__name", "product__slug"]
    search_help_text = "Shopper's e-mail, product name or slug, or a subscription's id."
    list_select_related = ["user", "product", "region"]
    list_per_page = 50
    readonly_fields = [
        "id",
        "user",
        "product",
        "region",
        "quantity",
        "every",
        "status",
        "pause_reason",
        "next_date",
        "period_index",
        "anchor_date",
        "failed_attempts",
        "reminded_for",
        "last_unit_price_money",
        "address",
        "card",
        "created_at",
        "updated_at",
        "cancelled_at",
    ]
    fields = readonly_fields
    inlines = [SubscriptionPeriodInline]

    @admin.display(description="shopper", ordering="user__email")
    def shopper(self, obj):
        return obj.user.email

    @admin.display(description="last unit price")
    def last_unit_price_money(self, obj):
        """The unit price (after the discount) of the last delivery placed."""
        return money_display(obj.last_unit_price, obj.region.currency)

    def get_queryset(self, request):
        # The change page shows the shopper, the product and the price in the region's currency.
        return super().get_queryset(request).select_related("user", "product", "region")


@admin.register(SubscriptionPeriod)
class SubscriptionPeriodAdmin(ReadOnlyAdmin):
    """Every subscription's run history: each period placed (its order), skipped, failed
    (attempts and the last refusal) or not placed (product withdrawn, no address)."""

    list_display = [
        "id",
        "subscription_link",
        "shopper",
        "product",
        "index",
        "due_date",
        "status",
        "order_link",
        "attempts",
        "message",
    ]
    list_filter = ["status", PeriodDueFilter]
    search_fields = ["order__number", "subscription__user__email"]
    search_help_text = "Order number or the shopper's e-mail."
    list_select_related = [
        "subscription__user",
        "subscription__product",
        "subscription__region",
        "order",
    ]
    list_per_page = 100
    date_hierarchy = "due_date"
    readonly_fields = [
        "subscription_link",
        "shopper",
        "index",
        "due_date",
        "status",
        "order_link",
        "attempts",
        "message",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields

    @admin.display(description="subscription", ordering="subscription_id")
    def subscription_link(self, obj):
        url = reverse("admin:subscriptions_subscription_change", args=[obj.subscription_id])
        return format_html('<a href="{}">{}</a>', url, obj.subscription_id)

    @admin.display(description="shopper", ordering="subscription__user__email")
    def shopper(self, obj):
        return obj.subscription.user.email

    @admin.display(description="product", ordering="subscription__product__name")
    def product(self, obj):
        return obj.subscription.product.name

    @admin.display(description="order", ordering="order__number")
    def order_link(self, obj):
        return _order_link(obj)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "subscription__user", "subscription__product", "subscription__region", "order"
            )
        )
