from django.contrib import admin

from catalog.models import Category, Price, Product, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "locale"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class PriceInline(admin.TabularInline):
    model = Price
    extra = 0
    fields = ["region", "amount"]
    verbose_name = "price (minor units: cents, pence, yen)"


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "kind", "is_active", "created_at"]
    list_filter = ["category", "kind", "is_active"]
    search_fields = ["name", "slug", "description"]
    list_select_related = ["category"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PriceInline]
