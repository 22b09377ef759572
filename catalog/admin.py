from django import forms
from django.contrib import admin

from catalog.admin_money import money_display
from catalog.models import Category, Price, Product, Region
from catalog.money import MoneyError, parse_amount, to_major_text


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "locale"]
    search_fields = ["code", "name"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class PriceForm(forms.ModelForm):
    """A price typed as money in its region's currency ("36.99", "3000" for yen), stored in
    minor units; staff never type or read cents."""

    amount = forms.CharField(
        max_length=20, label="price", help_text="In the region's currency: 36.99, or 3000 for yen."
    )

    class Meta:
        model = Price
        fields = ["region", "amount"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["amount"] = to_major_text(
                self.instance.amount, currency=self.instance.region.currency
            )

    def clean_amount(self):
        region = self.cleaned_data.get("region")
        if region is None:
            return None  # the region's own error is shown
        try:
            return parse_amount(self.cleaned_data["amount"], currency=region.currency)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None


class PriceInline(admin.TabularInline):
    model = Price
    form = PriceForm
    extra = 0
    show_original = False  # the price's own text is in minor units; its columns say it
    fields = ["region", "amount", "price_display"]
    readonly_fields = ["price_display"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("region")

    @admin.display(description="shown as")
    def price_display(self, obj):
        return money_display(obj.amount, obj.region.currency) if obj.pk else "—"


class ProductForm(forms.ModelForm):
    """A product; the coins of a coin pack may be left out for any other kind (0)."""

    coins = forms.IntegerField(
        min_value=0,
        max_value=10_000_000,
        required=False,
        help_text="A coin pack's coins; 0 for any other kind.",
    )
    bonus_coins = forms.IntegerField(
        min_value=0,
        max_value=10_000_000,
        required=False,
        help_text="The bonus coins a larger pack adds; 0 for none.",
    )

    class Meta:
        model = Product
        fields = [
            "name",
            "slug",
            "category",
            "kind",
            "description",
            "is_active",
            "coins",
            "bonus_coins",
            # Subscribe & Save (docs/subscriptions.md): physical products only, which the
            # form checks (the model's constraint) instead of the database refusing the save.
            "subscribable",
        ]

    def clean_coins(self):
        return self.cleaned_data.get("coins") or 0

    def clean_bonus_coins(self):
        return self.cleaned_data.get("bonus_coins") or 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = ["name", "category", "kind", "is_active", "subscribable", "created_at"]
    list_filter = ["category", "kind", "is_active"]
    search_fields = ["name", "slug", "description"]
    list_select_related = ["category"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PriceInline]
