"""The "Points and coins outstanding" staff report: the points and coins shoppers hold, what
became of the rest, and what the shop owes for them per region currency (wallet.outstanding)."""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from wallet.admin.base import ledger_amount_display
from wallet.outstanding import units_outstanding_get
from wallet.units import COINS, POINTS

# Looking at the ledger's accounts is looking at this report's figures: the same permission.
PERMISSION = "wallet.view_account"


def _money(minor, currency: str) -> str:
    return "no rate" if minor is None else ledger_amount_display(minor, currency)


def units_outstanding_view(model_admin, request):
    """The report page (GET only shows; it takes no input, so nothing a visitor types can
    break it). Staff without `wallet.view_account` get a 403."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    report = units_outstanding_get()

    def points(value):
        return ledger_amount_display(value, POINTS)

    def coins(value):
        return ledger_amount_display(value, COINS)

    rows = [
        {
            "currency": row.currency,
            "points_available": points(row.points_available),
            "points_pending": points(row.points_pending),
            "points_owed": points(row.points_owed),
            "coins": coins(row.coins),
            "points_value": _money(row.points_value, row.currency),
            "pending_value": _money(row.pending_value, row.currency),
            "coins_value": _money(row.coins_value, row.currency),
            "liability": _money(row.liability, row.currency),
            "liability_minor": row.liability,
            "converted_credit": _money(row.converted_credit, row.currency),
        }
        for row in report.currencies
    ]
    points_figures = [
        ("points-available", "Available to shoppers", report.points_available),
        ("points-pending", "Pending (in the return window)", report.points_pending),
        ("points-owed", "Owed by shoppers (taken back after they were used)", report.points_owed),
        ("points-earned", "Earned on orders (net of reversals)", report.points_earned),
        ("points-converted", "Converted to promotional credit so far", report.points_converted),
        ("points-adjusted", "Adjusted by staff (net)", report.points_adjusted),
    ]
    coins_figures = [
        ("coins-outstanding", "Held by shoppers (outstanding)", report.coins_outstanding),
        ("coins-sold", "Sold (net of coin packs refunded)", report.coins_sold),
        ("coins-spent", "Spent (net of coins returned)", report.coins_spent),
        ("coins-adjusted", "Adjusted by staff (net)", report.coins_adjusted),
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Points and coins outstanding",
        "opts": model_admin.model._meta,
        "points_figures": [(key, label, n, points(n)) for key, label, n in points_figures],
        "coins_figures": [(key, label, n, coins(n)) for key, label, n in coins_figures],
        "rows": rows,
    }
    return TemplateResponse(request, "admin/wallet/account/units_outstanding.html", context)
