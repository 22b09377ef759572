from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from wallet import points_views, views

app_name = "wallet"

# The claim code never reaches an error report (`sensitive_post_parameters`), and pages that
# show a balance or take a code are never kept by a browser or a shared cache (`never_cache`
# sends `Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`).
urlpatterns = [
    path(
        "gift-cards/redeem/",
        never_cache(sensitive_post_parameters("code")(views.GiftCardRedeemView.as_view())),
        name="redeem",
    ),
    path("wallet/", never_cache(views.WalletOverviewView.as_view()), name="overview"),
    # Reward points and coins (docs/interface.md §13).
    path("wallet/points/", never_cache(points_views.PointsOverviewView.as_view()), name="points"),
    path(
        "wallet/points/convert/",
        never_cache(points_views.PointsConvertView.as_view()),
        name="points_convert",
    ),
    path("wallet/coins/", never_cache(points_views.CoinsOverviewView.as_view()), name="coins"),
    path(
        "wallet/activity/<int:posting_id>/report/",
        never_cache(views.ActivityReportCreateView.as_view()),
        name="activity_report",
    ),
    path(
        "wallet/reports/<int:report_id>/",
        never_cache(views.ActivityReportDetailView.as_view()),
        name="report",
    ),
    # The contact form carries no balance or code, but it is a form: never a cached copy.
    path("help/", never_cache(views.HelpView.as_view()), name="help"),
]
