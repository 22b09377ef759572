"""Forms of the checkout admin that are not the shop's own pages: the refund of units."""

from django import forms


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
