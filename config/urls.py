from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("wallet.urls")),
    path("", include("checkout.urls")),
    path("", include("catalog.urls")),
]
