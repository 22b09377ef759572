from django import forms

from catalog.money import MoneyError, parse_amount
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


class RefundForm(forms.Form):
    """Staff refund (admin). Amounts in the order's currency, per source; `clean` turns them
    into minor units (`amounts`) and refuses what the refund service would refuse anyway
    (not an amount, nothing to refund and, when `left_balance`/`left_card` are given, more
    than is left), so the confirmation step only states a refund that can be posted."""

    from_balance = forms.CharField(max_length=20, required=False, label="From the balance part")
    from_card = forms.CharField(max_length=20, required=False, label="From the card part")
    card_to_balance = forms.BooleanField(
        required=False, label="Refund the card part to the wallet balance instead of the card"
    )
    reason = forms.CharField(max_length=200)
    # As the page renders it (32 hex digits): "admin-refund:" + the key must fit the 64
    # characters of `Refund.idempotency_key` (PostgreSQL refuses longer, with an error page).
    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$", max_length=32, widget=forms.HiddenInput
    )

    def __init__(
        self, *args, currency: str, left_balance: int | None, left_card: int | None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.left = {"from_balance": left_balance, "from_card": left_card}
        self.amounts: dict[str, int] = {}

    def clean(self):
        data = super().clean()
        try:
            amounts = {
                name: parse_amount(text, currency=self.currency) if text.strip() else 0
                for name in ("from_balance", "from_card")
                if (text := data.get(name)) is not None
            }
        except MoneyError as error:
            raise forms.ValidationError(f"Refused: {error}") from error
        if len(amounts) < 2:
            return data  # a field error already says what is wrong
        if sum(amounts.values()) == 0:
            raise forms.ValidationError("Refused: Refund a positive amount.")
        for name, where in (("from_balance", "balance"), ("from_card", "card")):
            if self.left[name] is not None and amounts[name] > self.left[name]:
                raise forms.ValidationError(
                    f"Refused: That is more than is left to refund to the {where}."
                )
        self.amounts = amounts
        return data


class ShippingForm(forms.Form):
    method = forms.ChoiceField(choices=[("standard", "Standard"), ("express", "Express")])


class SavedAddressForm(forms.Form):
    """Ship to a saved address: its id (docs/interface.md §10)."""

    address = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class ShipForm(forms.Form):
    """Staff: mark an order shipped (admin)."""

    carrier = forms.CharField(max_length=60)
    tracking_number = forms.CharField(max_length=60, label="Tracking number")
