"""The shopper's reward points and coins pages (docs/interface.md §13): /wallet/points/ with
the conversion form, and /wallet/coins/."""

import uuid
from collections import defaultdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from catalog.money import format_money
from catalog.regions import region_zone
from wallet.exceptions import PointsRefused
from wallet.points_forms import PointsConvertForm
from wallet.services import points_convert
from wallet.unit_selectors import (
    coins_activity_list,
    coins_activity_rows,
    coins_balance_get,
    points_activity_list,
    points_activity_rows,
    points_balance_get,
)
from wallet.units import (
    EARN_MINOR_PER_POINT,
    POINTS_CONVERT_STEP,
    POINTS_PENDING_DAYS,
    coins_value,
    format_points,
    points_credit_value,
)

# How many coins the coins page prices in words ("100 coins pay $1.00").
COINS_RATE_SHOWN = 100


def _page(request, postings):
    return Paginator(postings, settings.WALLET_ACTIVITY_PAGE_SIZE).get_page(request.GET.get("page"))


def _pending_days(pending_lots, *, region) -> list[tuple[int, object]]:
    """The pending points by the day they become available in the shopper's region, soonest
    first (two orders released on one day are one line)."""
    by_day = defaultdict(int)
    for lot in pending_lots:
        by_day[timezone.localtime(lot.release_at, region_zone(region)).date()] += lot.points
    return sorted(((points, day) for day, points in by_day.items()), key=lambda pair: pair[1])


class PointsOverviewView(LoginRequiredMixin, View):
    """Available and pending points (with their days), points owed, the conversion form and
    every movement of the points, newest first, paginated."""

    template_name = "wallet/points_overview.html"

    def get(self, request):
        return self.render_page(request)

    @classmethod
    def render_page(cls, request, *, form=None, reason="", message="", status=200):
        user = request.user
        region = user.region
        balance = points_balance_get(user=user)
        page = _page(request, points_activity_list(user=user))
        convertible = balance.available - balance.available % POINTS_CONVERT_STEP
        typed = ""
        if form is not None:
            typed = form.data.get("points", "")
            # Shown back to be corrected, unless it is no text to type (a NUL, a page of it).
            typed = typed if typed.isprintable() and len(typed) <= 20 else ""
        context = {
            "balance": balance,
            "pending_days": _pending_days(balance.pending_lots, region=region),
            "step": POINTS_CONVERT_STEP,
            "step_credit": points_credit_value(
                points=POINTS_CONVERT_STEP, currency=region.currency
            ),
            "currency": region.currency,
            "earn_minor": EARN_MINOR_PER_POINT.get(region.currency),
            "pending_days_window": POINTS_PENDING_DAYS,
            "convertible": convertible,
            "points_value": typed if form is not None else (convertible or POINTS_CONVERT_STEP),
            # A new key for every form shown: after a refusal the next try is a new one (the
            # refused key would answer its refusal again, as a replay should).
            "idempotency_key": uuid.uuid4().hex,
            "page": page,
            "rows": points_activity_rows(page.object_list, region=region),
            "error_reason": reason,
            "error_message": message,
        }
        return render(request, cls.template_name, context, status=status)


class PointsConvertView(LoginRequiredMixin, View):
    """POST /wallet/points/convert/: whole steps of 500 points become promotional credit
    without expiry. A refusal or a form that is wrong shows the page again with the error
    (400) and converts nothing; a replayed form answers its first conversion."""

    http_method_names = ["post"]

    def post(self, request):
        form = PointsConvertForm(request.POST)
        if not form.is_valid():
            reason, message = form.error_reason()
            return self._refused(request, form, reason, message)
        hex_key = form.cleaned_data["idempotency_key"]
        try:
            result = points_convert(
                user=request.user,
                points=form.cleaned_data["points"],
                idempotency_key=f"points-convert:{request.user.pk}:{hex_key}",
            )
        except PointsRefused as refusal:
            return self._refused(request, form, refusal.reason, str(refusal))
        locale = request.user.region.locale
        credit = format_money(result.credit, currency=result.currency, locale=locale)
        messages.success(
            request,
            f"Converted {format_points(result.points, locale=locale)} to {credit} of "
            "promotional credit (no expiry).",
        )
        return redirect("wallet:points")

    @staticmethod
    def _refused(request, form, reason, message):
        return PointsOverviewView.render_page(
            request, form=form, reason=reason, message=message, status=400
        )


class CoinsOverviewView(LoginRequiredMixin, View):
    """The coin balance and every movement of it, newest first, paginated."""

    def get(self, request):
        page = _page(request, coins_activity_list(user=request.user))
        currency = request.user.region.currency
        context = {
            "coins": coins_balance_get(user=request.user),
            # The rate in words: 100 coins pay 1.00 (JPY: ¥100).
            "coin_step": COINS_RATE_SHOWN,
            "coin_step_value": coins_value(coins=COINS_RATE_SHOWN, currency=currency),
            "currency": currency,
            "page": page,
            "rows": coins_activity_rows(page.object_list),
        }
        return render(request, "wallet/coins_overview.html", context)
