from django import forms
from django.conf import settings
from localflavor.de.forms import DEZipCodeField
from localflavor.fr.forms import FRZipCodeField
from localflavor.gb.forms import GBPostcodeField
from localflavor.jp.forms import JPPostalCodeField
from localflavor.us.forms import USZipCodeField

from accounts.models import Address
from catalog.models import Region


class SignupRegionForm(forms.Form):
    """Added to allauth's sign-up form: the storefront the shopper belongs to (docs/interface.md
    §3, §5).

    allauth's sign-up form inherits from this class, so `field_order` here orders its fields.
    """

    field_order = ["email", "password1", "password2", "region"]

    region = forms.ModelChoiceField(
        queryset=Region.objects.all(),
        to_field_name="code",
        empty_label=None,
        help_text="Your storefront and currency. Gift cards redeem in the region they were "
        "sold in.",
        error_messages={"invalid_choice": "Choose one of the listed regions."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].initial = settings.DEFAULT_REGION

    def signup(self, request, user):
        """Nothing left to do: `AccountAdapter.save_user` stored the region with the user."""


def _jp_postal_code(value: str) -> str:
    """JP codes as the contract writes them: 123-4567 (localflavor keeps only the digits)."""
    return f"{value[:3]}-{value[3:]}"


# Each region's postal code: localflavor's form field, how a good one looks (for the error
# message), and how the cleaned value is written on the parcel.
POSTAL_CODES = {
    "US": (USZipCodeField, "12345 or 12345-6789", str),
    "GB": (GBPostcodeField, "a UK postcode such as SW1A 1AA", str),
    "FR": (FRZipCodeField, "5 digits, such as 75001", str),
    "DE": (DEZipCodeField, "5 digits, such as 10115", str),
    "JP": (JPPostalCodeField, "123-4567", _jp_postal_code),
}


class AddressForm(forms.ModelForm):
    """A delivery address in the shopper's region: the country is the region's (never asked),
    the postal code is checked the way that country writes it (docs/interface.md §10)."""

    class Meta:
        model = Address
        fields = ["full_name", "line1", "line2", "city", "postal_code", "phone"]
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
        }

    def __init__(self, *args, region_code: str, **kwargs):
        super().__init__(*args, **kwargs)
        field_class, example, self._postal_format = POSTAL_CODES.get(
            region_code, (forms.CharField, "", str)
        )
        message = f"Enter a valid postal code: {example}." if example else None
        self.fields["postal_code"] = field_class(
            label="Postal code",
            max_length=12,
            **({"error_messages": {"invalid": message}} if message else {}),
            widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
        )
        self.fields["phone"].required = False
        self.fields["line2"].required = False
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")

    def clean_postal_code(self):
        return self._postal_format(self.cleaned_data["postal_code"])

    def full_clean(self):
        super().full_clean()
        # Each error is read out with its input (the template gives it the id `<id>_error`).
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["aria-describedby"] = f"{self[name].auto_id}_error"
                widget.attrs["class"] = "form-control is-invalid"
