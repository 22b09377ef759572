"""The reload and auto-reload forms (docs/interface.md §12): input shape only. Amounts are
typed in major units of the shopper's currency and come out in minor units; the limits are the
services' to enforce (checkout/services/reloads.py)."""

from django import forms

from catalog.money import MoneyError, parse_amount


def _amount_parse(text: str, *, currency: str) -> int:
    try:
        return parse_amount(text.strip(), currency=currency)
    except MoneyError as error:
        raise forms.ValidationError(str(error), code="amount") from error


class ReloadCreateForm(forms.Form):
    """`amount` is a listed amount, "custom" (then `custom_amount` says it) or a figure."""

    amount = forms.CharField(max_length=20, required=False)
    custom_amount = forms.CharField(max_length=20, required=False)
    card_number = forms.CharField(
        max_length=30, error_messages={"required": "Type the card number to charge."}
    )
    # As the page renders it (32 hex digits): a replay of the same form charges once.
    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$",
        max_length=32,
        error_messages={
            "required": "This form has expired. Open the page again.",
            "invalid": "This form has expired. Open the page again.",
        },
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean(self):
        data = super().clean()
        text = (data.get("amount") or "").strip()
        if text == "custom":
            text = (data.get("custom_amount") or "").strip()
        if not text:
            self.add_error("amount", forms.ValidationError("Choose an amount.", code="amount"))
            return data
        try:
            data["amount_minor"] = _amount_parse(text, currency=self.currency)
        except forms.ValidationError as error:
            self.add_error("amount", error)
        return data

    def error_reason(self) -> tuple[str, str]:
        """The refusal's `data-reason` and message: the first field that is wrong."""
        for field, reason in (
            ("idempotency_key", "expired"),
            ("amount", "amount"),
            ("card_number", "card_number"),
        ):
            if field in self.errors:
                return reason, self.errors[field][0]
        return "invalid", "Check the form and try again."


class OnOffCheckbox(forms.CheckboxInput):
    """The page's checkbox, which also reads the words a script posts (docs/interface.md §12:
    `enabled` = `on` / `off`, as `use_balance`): "off", "no", "0" and "false" are off. A plain
    checkbox takes any text but "false" for on, and "off" would turn charges on."""

    OFF = frozenset({"off", "no", "0", "false", ""})

    def value_from_datadict(self, data, files, name):
        value = data.get(name)
        if isinstance(value, str) and value.strip().lower() in self.OFF:
            return False
        return super().value_from_datadict(data, files, name)


class AutoReloadEditForm(forms.Form):
    enabled = forms.BooleanField(required=False, widget=OnOffCheckbox)
    threshold = forms.CharField(max_length=20, required=False)
    amount = forms.CharField(max_length=20, required=False)
    # Optional once a card is saved: a new number replaces the saved card.
    card_number = forms.CharField(max_length=30, required=False)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    # Turning auto-reload off reads no amount (`auto_reload_settings_save` keeps the saved
    # ones): whatever is in the boxes then must not stand in the way of stopping the charges.
    def clean_threshold(self):
        text = self.cleaned_data["threshold"].strip()
        if not self.cleaned_data.get("enabled") or not text:
            return None
        return _amount_parse(text, currency=self.currency)

    def clean_amount(self):
        text = self.cleaned_data["amount"].strip()
        if not self.cleaned_data.get("enabled") or not text:
            return None
        return _amount_parse(text, currency=self.currency)

    def error_reason(self) -> tuple[str, str]:
        for field in ("threshold", "amount", "card_number"):
            if field in self.errors:
                return field, self.errors[field][0]
        return "invalid", "Check the form and try again."
