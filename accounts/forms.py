from django import forms
from django.conf import settings

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
