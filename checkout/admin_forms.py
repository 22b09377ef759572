"""Forms of the checkout admin that are not the shop's own pages: the refunds by amounts and
of units."""

from django import forms

from catalog.money import MoneyError, parse_amount


class RefundUnitsForm(forms.Form):
    """Staff refund of units (admin): how many units of each line come back, the reason, and
    whether the card part goes to the balance. Only the shape is checked here; what the units
    are worth and whether they are left is the refund service's to say (`order_refund_units`).
    """

    card_to_balance = forms.BooleanField(
        required=False, label="Refund the card part to the wallet balance instead of the card"
    )
    reason = forms.CharField(max_length=200)
    # "admin-refund:" + 32 hex digits fits the 64 characters of `Refund.idempotency_key`.
    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$", max_length=32, widget=forms.HiddenInput
    )

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            left = line.quantity - line.refunded_quantity
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                label=f"{line.product_name} ({left} of {line.quantity} left)",
            )
        # The reason and the switch after the lines, as staff read the page.
        self.order_fields(
            [f"line_{line.pk}" for line in self.lines] + ["reason", "card_to_balance"]
        )

    def clean(self):
        data = super().clean()
        self.units = {
            line.pk: data[f"line_{line.pk}"] for line in self.lines if data.get(f"line_{line.pk}")
        }
        if not self.errors and not self.units:
            raise forms.ValidationError("Refused: Say how many units of which line come back.")
        return data


class OrderRefundForm(forms.Form):
    """Staff refund by amounts (admin): in the order's currency, per source (the balance part,
    the card part, the coins part); `clean` turns them into minor units (`amounts`) and
    refuses what the refund service would refuse anyway (not an amount, nothing to refund and,
    when the `left` figures are given, more than is left), so the confirmation step only
    states a refund that can be posted. The coins part is asked only of an order coins paid."""

    SOURCES = (("from_balance", "balance"), ("from_card", "card"), ("from_coins", "coins part"))

    from_balance = forms.CharField(max_length=20, required=False, label="From the balance part")
    from_card = forms.CharField(max_length=20, required=False, label="From the card part")
    from_coins = forms.CharField(
        max_length=20, required=False, label="From the coins part (goes back as coins)"
    )
    card_to_balance = forms.BooleanField(
        required=False, label="Refund the card part to the wallet balance instead of the card"
    )
    reason = forms.CharField(max_length=200)
    # "admin-refund:" + 32 hex digits fits the 64 characters of `Refund.idempotency_key`.
    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$", max_length=32, widget=forms.HiddenInput
    )

    def __init__(self, *args, currency: str, left: dict[str, int | None], coins: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.left = left
        self.amounts: dict[str, int] = {}
        if not coins:
            del self.fields["from_coins"]

    def clean(self):
        data = super().clean()
        names = [name for name, _ in self.SOURCES if name in self.fields]
        try:
            amounts = {
                name: parse_amount(text, currency=self.currency) if text.strip() else 0
                for name in names
                if (text := data.get(name)) is not None
            }
        except MoneyError as error:
            raise forms.ValidationError(f"Refused: {error}") from error
        if len(amounts) < len(names):
            return data  # a field error already says what is wrong
        amounts.setdefault("from_coins", 0)
        if sum(amounts.values()) == 0:
            raise forms.ValidationError("Refused: Refund a positive amount.")
        for name, where in self.SOURCES:
            if self.left.get(name) is not None and amounts[name] > self.left[name]:
                to = "of the coins part" if name == "from_coins" else f"to the {where}"
                raise forms.ValidationError(f"Refused: That is more than is left to refund {to}.")
        self.amounts = amounts
        return data
