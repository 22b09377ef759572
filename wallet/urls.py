from django.urls import path

from wallet import views

app_name = "wallet"

urlpatterns = [
    path("gift-cards/redeem/", views.GiftCardRedeemView.as_view(), name="redeem"),
    path("wallet/", views.WalletOverviewView.as_view(), name="overview"),
    path(
        "wallet/activity/<int:posting_id>/report/",
        views.ActivityReportCreateView.as_view(),
        name="activity_report",
    ),
]
