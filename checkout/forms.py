from django import forms

from checkout.models import MAX_QUANTITY


class CartLineForm(forms.Form):
    product = forms.SlugField(max_length=200)
    quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        error_messages={
            "min_value": "Choose a quantity from 1 to 99.",
            "max_value": "Choose a quantity from 1 to 99.",
            "invalid": "Choose a quantity from 1 to 99.",
        },
    )


class CheckoutCodeForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        error_messages={
            "required": "Enter a gift card or promotional code.",
            "max_length": "That is far longer than any code.",
        },
    )


class UseBalanceForm(forms.Form):
    use_balance = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


class UseCoinsForm(forms.Form):
    use_coins = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


class PlaceOrderForm(forms.Form):
    idempotency_key = forms.RegexField(regex=r"^[0-9a-f]{32}$", max_length=32)
    card_number = forms.CharField(max_length=30, required=False)
    # What the summary showed (minor units); optional, so a script may leave them out.
    expected_total = forms.IntegerField(required=False, min_value=0)
    expected_amount_due = forms.IntegerField(required=False, min_value=0)
    expected_balance = forms.IntegerField(required=False, min_value=0)
    expected_coins = forms.IntegerField(required=False, min_value=0)


class ShippingForm(forms.Form):
    method = forms.ChoiceField(choices=[("standard", "Standard"), ("express", "Express")])


class SavedAddressForm(forms.Form):
    """Ship to a saved address: its id (docs/interface.md §10)."""

    address = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class ShipForm(forms.Form):
    """Staff: mark an order shipped (admin)."""

    carrier = forms.CharField(max_length=60)
    tracking_number = forms.CharField(max_length=60, label="Tracking number")
