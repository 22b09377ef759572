from allauth.account.views import LogoutView
from django.contrib import admin
from django.urls import include, path

from accounts.views import admin_login
from config.health import health

urlpatterns = [
    path("healthz/", health, name="health"),  # liveness probe, bench baseline (config/health.py)
    # Before the admin's own: staff sign in and out through allauth (limits, two-factor).
    path("admin/login/", admin_login),
    path("admin/logout/", LogoutView.as_view()),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("", include("wallet.urls")),
    path("", include("checkout.urls")),
    path("subscriptions/", include("subscriptions.urls")),
    path("", include("catalog.urls")),
]
