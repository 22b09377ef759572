from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.ProductListView.as_view(), name="home"),
    path("products/<slug:slug>/", views.ProductDetailView.as_view(), name="product"),
]
