"""The Subscribe & Save forms: they only check the shape of what was posted (a number, a date);
the rules (quantity 1 to 20, every 1/2/3/6 months, what a subscription's status allows) are the
services' (subscriptions.services), which say why they refuse."""

from django import forms

from subscriptions.models import EVERY_CHOICES, QUANTITY_MAX

QUANTITY_MESSAGE = f"Choose a quantity from 1 to {QUANTITY_MAX}."
EVERY_MESSAGE = "Choose every 1, 2, 3 or 6 months."


def _quantity_field(*, required: bool) -> forms.IntegerField:
    return forms.IntegerField(required=required, min_value=1, max_value=QUANTITY_MAX)


def _every_field(*, required: bool) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        required=required, choices=EVERY_CHOICES, coerce=int, empty_value=None
    )


class _ReasonedForm(forms.Form):
    """A form whose first refused field names the page's `data-reason` (docs/interface.md §14)."""

    reasons = {"quantity": ("quantity", QUANTITY_MESSAGE), "every": ("every", EVERY_MESSAGE)}

    def refusal(self) -> tuple[str, str]:
        for name in self.errors:
            if name in self.reasons:
                return self.reasons[name]
        return "invalid", "This form is no longer valid. Please try again."


class SubscribeForm(_ReasonedForm):
    product = forms.SlugField(max_length=100)
    # Each 1 when not given (docs/interface.md §14).
    quantity = _quantity_field(required=False)
    every = _every_field(required=False)
    # Only when the shopper has no saved card: kept as the provider's token, never the number.
    card_number = forms.CharField(max_length=30, required=False)

    reasons = {
        **_ReasonedForm.reasons,
        "product": ("not_subscribable", "This product cannot be delivered by Subscribe & Save."),
        "card_number": ("declined", "Check the card number."),
    }

    def clean_quantity(self):
        quantity = self.cleaned_data.get("quantity")
        return 1 if quantity is None else quantity

    def clean_every(self):
        every = self.cleaned_data.get("every")
        return 1 if every is None else every


class SubscriptionChangeForm(_ReasonedForm):
    """A new quantity, a new frequency, or both (a field left out stays as it is)."""

    quantity = _quantity_field(required=False)
    every = _every_field(required=False)

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("quantity") is None and data.get("every") is None:
            raise forms.ValidationError("Choose a new quantity or frequency.")
        return data


class SubscriptionSkipForm(forms.Form):
    """The date of the delivery the shopper saw and chose to skip (the page's, the e-mail's)."""

    due_date = forms.DateField(input_formats=["%Y-%m-%d"])


class SubscriptionCardForm(_ReasonedForm):
    """A new card for the shopper's deliveries (kept as the provider's token)."""

    reasons = {"card_number": ("card", "Enter the card number to save (up to 40 characters).")}
    card_number = forms.CharField(max_length=40, strip=True)
