"""The promotions admin's forms: a promotion's terms (amounts per currency as money text), and
the preview's cart. Shapes only; the rules are promotions.terms', asked in `clean`."""

import datetime

from django import forms

from catalog.models import Category, Product, Region
from catalog.money import MoneyError, parse_amount, to_major_text
from promotions.approval import AmountTerms, PromotionTerms
from promotions.models import Promotion
from promotions.terms import PromotionTermsInvalid, promotion_code_clean, promotion_terms_validate

AMOUNT_FIELDS = {
    "amount_off": "amount off / credit",
    "minimum_subtotal": "minimum subtotal (gift card bonus: of gift cards)",
    "cap": "cap per use",
    "budget": "budget",
}
PREVIEW_LINES = 5


def region_currencies() -> list[str]:
    return sorted(set(Region.objects.values_list("currency", flat=True)))


class PromotionForm(forms.Form):
    """A promotion's terms. Amounts are typed in major units of each currency ("5.00",
    "750" yen); blank is "not set". `promotion`: the one being changed (its codes are fixed)."""

    slug = forms.SlugField(max_length=40, help_text="Lower case; the demo uses the code's.")
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=Promotion.Kind.choices)
    target = forms.ChoiceField(choices=Promotion.Target.choices)
    codes = forms.ChoiceField(choices=Promotion.Codes.choices)
    code = forms.CharField(max_length=40, required=False, help_text="The public code, e.g. SAVE5.")
    percent = forms.IntegerField(min_value=1, max_value=100, required=False)
    buy_quantity = forms.IntegerField(min_value=1, max_value=1000, required=False)
    get_quantity = forms.IntegerField(min_value=1, max_value=1000, required=False)
    credit_days = forms.IntegerField(min_value=1, max_value=3650, required=False)
    categories = forms.ModelMultipleChoiceField(Category.objects.all(), required=False)
    products = forms.ModelMultipleChoiceField(Product.objects.all(), required=False)
    regions = forms.ModelMultipleChoiceField(
        Region.objects.all(), required=False, help_text="None: every region."
    )
    starts_on = forms.DateField(required=False, help_text="YYYY-MM-DD, in the region's zone.")
    ends_on = forms.DateField(required=False, help_text="Last day, inclusive.")
    first_order_only = forms.BooleanField(required=False)
    per_shopper_limit = forms.IntegerField(min_value=1, required=False)
    total_limit = forms.IntegerField(min_value=1, required=False)
    exclusive = forms.BooleanField(required=False, help_text="Combines with no other promotion.")
    not_combinable_with = forms.ModelMultipleChoiceField(Promotion.objects.all(), required=False)
    version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, promotion: Promotion | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.promotion = promotion
        self.currencies = region_currencies()
        for currency in self.currencies:
            for name, label in AMOUNT_FIELDS.items():
                self.fields[f"{name}_{currency}"] = forms.CharField(
                    max_length=20, required=False, label=f"{currency} {label}"
                )
        if promotion is not None:
            self.fields["not_combinable_with"].queryset = Promotion.objects.exclude(pk=promotion.pk)
            for name in ("codes", "code"):
                self.fields[name].disabled = True
                self.fields[name].help_text = "Codes do not change: create a new promotion."

    @classmethod
    def initial_of(cls, promotion: Promotion, terms: PromotionTerms) -> dict:
        initial = {
            **{
                name: getattr(terms, name)
                for name in PromotionTerms.__dataclass_fields__
                if name not in ("amounts", "category_ids", "product_ids", "region_codes")
            },
            "categories": sorted(terms.category_ids),
            "products": sorted(terms.product_ids),
            "regions": sorted(terms.region_codes),
            "not_combinable_with": sorted(terms.not_combinable_with),
            "version": promotion.updated_at.isoformat(),
        }
        for currency, amounts in terms.amounts.items():
            for name in AMOUNT_FIELDS:
                value = getattr(amounts, name)
                if value is not None:
                    initial[f"{name}_{currency}"] = to_major_text(value, currency=currency)
        return initial

    def clean_code(self):
        code = self.cleaned_data.get("code", "")
        if not code.strip():
            return ""
        try:
            return promotion_code_clean(code)
        except PromotionTermsInvalid as error:
            raise forms.ValidationError(str(error).removeprefix("code: ")) from None

    def clean_version(self):
        text = self.cleaned_data.get("version") or ""
        if not text:
            return None
        try:
            return datetime.datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError("reload the page") from None

    def _amounts(self) -> dict[str, AmountTerms]:
        amounts = {}
        for currency in self.currencies:
            values = {}
            for name in AMOUNT_FIELDS:
                field = f"{name}_{currency}"
                text = (self.cleaned_data.get(field) or "").strip()
                if not text:
                    values[name] = None
                    continue
                try:
                    values[name] = parse_amount(text, currency=currency)
                except MoneyError as error:
                    self.add_error(field, str(error))
                    values[name] = None
            if any(v is not None for v in values.values()):
                amounts[currency] = AmountTerms(**values)
        return amounts

    def clean(self):
        cleaned = super().clean()
        amounts = self._amounts()
        if self.errors:
            return cleaned
        self.terms = PromotionTerms(
            slug=cleaned["slug"],
            name=cleaned["name"],
            description=cleaned.get("description", ""),
            kind=cleaned["kind"],
            target=cleaned["target"],
            codes=cleaned["codes"],
            code=cleaned.get("code", ""),
            percent=cleaned.get("percent"),
            buy_quantity=cleaned.get("buy_quantity"),
            get_quantity=cleaned.get("get_quantity"),
            credit_days=cleaned.get("credit_days"),
            category_ids=frozenset(c.pk for c in cleaned["categories"]),
            product_ids=frozenset(p.pk for p in cleaned["products"]),
            region_codes=frozenset(r.pk for r in cleaned["regions"]),
            starts_on=cleaned.get("starts_on"),
            ends_on=cleaned.get("ends_on"),
            first_order_only=cleaned.get("first_order_only", False),
            per_shopper_limit=cleaned.get("per_shopper_limit"),
            total_limit=cleaned.get("total_limit"),
            exclusive=cleaned.get("exclusive", False),
            not_combinable_with=frozenset(p.pk for p in cleaned["not_combinable_with"]),
            amounts=amounts,
        )
        try:
            promotion_terms_validate(self.terms, promotion=self.promotion)
        except PromotionTermsInvalid as error:
            raise forms.ValidationError(str(error)) from None
        return cleaned


class PreviewForm(forms.Form):
    """A cart to price: a region, up to five products with quantities, codes typed."""

    region = forms.ModelChoiceField(Region.objects.all(), empty_label=None)
    codes = forms.CharField(
        max_length=200, required=False, help_text="Other codes typed, separated by spaces."
    )
    has_orders = forms.BooleanField(required=False, label="The shopper has ordered before")
    on_day = forms.DateField(required=False, help_text="YYYY-MM-DD; blank: today there.")
    shipping = forms.CharField(
        max_length=20, required=False, help_text="Standard shipping's rate, e.g. 5.99; blank: none."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        products = Product.objects.filter(is_active=True).order_by("name")
        for i in range(1, PREVIEW_LINES + 1):
            self.fields[f"product_{i}"] = forms.ModelChoiceField(
                products, required=False, label=f"Product {i}"
            )
            self.fields[f"quantity_{i}"] = forms.IntegerField(
                min_value=1, max_value=99, required=False, initial=1, label=f"Quantity {i}"
            )

    def clean(self):
        cleaned = super().clean()
        self.items = [
            (cleaned[f"product_{i}"], cleaned.get(f"quantity_{i}") or 1)
            for i in range(1, PREVIEW_LINES + 1)
            if cleaned.get(f"product_{i}")
        ]
        codes = (cleaned.get("codes") or "").replace(",", " ").split()
        if len(codes) > 5:
            self.add_error("codes", "at most 5 codes, as at checkout")
        self.codes = codes[:5]
        self.shipping_amount = None
        text = (cleaned.get("shipping") or "").strip()
        region = cleaned.get("region")
        if text and region is not None:
            try:
                self.shipping_amount = parse_amount(text, currency=region.currency)
            except MoneyError as error:
                self.add_error("shipping", str(error))
        return cleaned
