from django.urls import path
from django.views.decorators.cache import never_cache

from accounts import address_views

app_name = "accounts"

# An address is personal data: never kept in a shared cache.
urlpatterns = [
    path("addresses/", never_cache(address_views.AddressListView.as_view()), name="addresses"),
    path(
        "addresses/<int:pk>/edit/",
        never_cache(address_views.AddressEditView.as_view()),
        name="address_edit",
    ),
    path(
        "addresses/<int:pk>/delete/",
        address_views.AddressDeleteView.as_view(),
        name="address_delete",
    ),
    path(
        "addresses/<int:pk>/default/",
        address_views.AddressDefaultView.as_view(),
        name="address_default",
    ),
]
