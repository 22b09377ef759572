from django.contrib import admin

from catalog.models import Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "locale"]
    search_fields = ["code", "name"]
