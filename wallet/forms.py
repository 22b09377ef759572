from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from catalog.models import Region
from catalog.money import MAX_MINOR, MoneyError, parse_amount
from catalog.regions import region_day_is_over
from wallet.models import ADJUSTMENT_DESCRIPTION_DEFAULT, SupportRequest
from wallet.units import POINTS, UNITS


class GiftCardRedeemForm(forms.Form):
    """The claim code as typed; its format is judged by `wallet.codes` inside the service."""

    code = forms.CharField(
        label="Claim code",
        max_length=64,
        strip=True,
        error_messages={
            "required": "Enter the claim code from the back of the card.",
            "max_length": "That is far longer than a gift card code (15 characters).",
        },
        widget=forms.TextInput(
            attrs={
                "placeholder": "XXXX-XXXXXX-XXXXX",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "class": "code-input",
                "autofocus": True,
            }
        ),
    )


class ActivityReportCreateForm(forms.Form):
    message = forms.CharField(
        label="What looks wrong?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Tell us briefly what looks wrong."},
    )


class SupportRequestCreateForm(forms.Form):
    """The contact form of /help/; the name and e-mail are prefilled for a signed-in shopper."""

    name = forms.CharField(
        label="Your name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "name", "class": "form-control"}),
        error_messages={"required": "Tell us your name."},
    )
    email = forms.EmailField(
        label="E-mail address",
        help_text="We answer by e-mail.",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "class": "form-control"}),
        error_messages={
            "required": "Give us an e-mail address to answer.",
            "invalid": "Enter an e-mail address such as name@example.com.",
        },
    )
    topic = forms.ChoiceField(
        label="What is it about?",
        choices=[("", "Choose a topic…"), *SupportRequest.Topic.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"required": "Choose a topic.", "invalid_choice": "Choose a topic."},
    )
    message = forms.CharField(
        label="Your message",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5, "class": "form-control"}),
        help_text="Never include a full gift card code or card number: the last 4 symbols are "
        "enough for us to find it.",
        error_messages={
            "required": "Tell us how we can help.",
            "max_length": "Please keep it under 4,000 characters.",
        },
    )


class GiftCardBatchRequestForm(forms.Form):
    """Staff ask for a batch of cards (admin). The amount is read in the region's currency."""

    name = forms.CharField(max_length=100, help_text="A name you will recognise later.")
    region = forms.ModelChoiceField(queryset=Region.objects.all(), empty_label=None)
    count = forms.IntegerField(min_value=1, label="Number of cards")
    amount = forms.CharField(
        max_length=20, label="Value of each card", help_text="In the region's currency: 25.00"
    )
    expires_on = forms.DateField(
        required=False,
        label="Last day to redeem",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    # Rendered once per page: a double click or a replayed form makes one batch.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin streams a batch's codes through one request: beyond this many cards, the
        # `issue_giftcards` command (read when the form is made, so tests may change it).
        most = settings.GIFTCARD_ADMIN_MAX_CARDS
        self.fields["count"].max_value = most
        self.fields["count"].validators.append(MaxValueValidator(most))
        self.fields["count"].widget.attrs["max"] = most
        self.fields["count"].help_text = (
            f"At most {most:,} here; larger batches are issued with the command "
            "`manage.py issue_giftcards`."
        )

    def clean_expires_on(self):
        # The last day is a day in the region's time zone (`region` is cleaned before this
        # field; when it is invalid, its own error is shown).
        expires_on = self.cleaned_data["expires_on"]
        region = self.cleaned_data.get("region")
        if expires_on is not None and region is not None and region_day_is_over(region, expires_on):
            raise forms.ValidationError(
                f"The expiry date is in the past in {region.name} ({region.time_zone})."
            )
        return expires_on

    def clean(self):
        cleaned = super().clean()
        region = cleaned.get("region")
        if region is not None and cleaned.get("amount"):
            try:
                cleaned["amount_minor"] = parse_amount(cleaned["amount"], currency=region.currency)
            except MoneyError as error:
                self.add_error("amount", str(error))
        return cleaned


class ReasonForm(forms.Form):
    """A mandatory reason, for staff actions that change a card, a batch or an adjustment."""

    reason = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 60}))


def _whole_units(text: str) -> int:
    """A positive whole number of points or coins as typed ("1250"; no signs, separators or
    fractions: a part of a point does not exist)."""
    raw = (text or "").strip()
    if not raw.isascii() or not raw.isdigit():
        raise forms.ValidationError(f"'{text}' is not a whole number: use digits like 500.")
    if int(raw) <= 0:
        raise forms.ValidationError("The amount must be more than zero.")
    if int(raw) > MAX_MINOR:
        raise forms.ValidationError(f"'{text}' is too large.")
    return int(raw)


class BalanceAdjustForm(forms.Form):
    """Staff adjust a customer balance: a signed amount in the account's currency, a reason.
    For a points or coins account (`currency` PTS / CNS) the amount is whole points or coins."""

    direction = forms.ChoiceField(choices=[("credit", "Credit (add)"), ("debit", "Debit (take)")])
    amount = forms.CharField(max_length=20, help_text="In the account's currency: 10.00")
    # Two texts: the internal note stays with staff (the adjustment, the audit log); the
    # description is what the shopper reads in their wallet activity.
    reason = forms.CharField(
        max_length=150,
        label="Internal note",
        help_text="Staff only: why you adjust. The shopper never sees it.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    # Required when the form shows it (`clean_description`); a POST made without the field at
    # all (an older page) gets the default, so the note can never become the description.
    description = forms.CharField(
        max_length=150,
        required=False,
        label="Description the shopper sees",
        initial=ADJUSTMENT_DESCRIPTION_DEFAULT,
        help_text='Shown in the shopper\'s wallet activity, e.g. "Goodwill credit".',
        widget=forms.TextInput(attrs={"size": 60, "required": True}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].help_text = f"In {currency}."
        if currency in UNITS:
            word = "points" if currency == POINTS else "coins"
            self.fields["amount"].help_text = f"In whole {word}: 500"

    def clean_description(self):
        if "description" not in self.data:
            return ADJUSTMENT_DESCRIPTION_DEFAULT
        description = self.cleaned_data["description"].strip()
        if not description:
            raise forms.ValidationError(
                'Say what the shopper will read, e.g. "Balance adjustment".', code="required"
            )
        return description

    def clean_amount(self):
        if self.currency in UNITS:
            return _whole_units(self.cleaned_data["amount"])
        try:
            return parse_amount(self.cleaned_data["amount"], currency=self.currency)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None

    def signed_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        return amount if self.cleaned_data["direction"] == "credit" else -amount
