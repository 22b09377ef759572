"""The gift card buy form (docs/interface.md §12): its input shape. The rules (amounts allowed,
the day, the cart's limit) are `cart_giftcard_add`'s; the form states the same amounts and
days so a refusal is shown beside its field."""

import datetime

from django import forms

from catalog.money import MoneyError, format_money, parse_amount, to_major_text
from checkout.giftcard_amounts import GiftCardAmounts
from checkout.giftcard_designs import design_list
from checkout.models import Delivery, GiftCardDesign
from checkout.services.cart import GIFTCARD_MESSAGE_MAX, GIFTCARD_SEND_ON_MAX_DAYS

CUSTOM = "custom"


class MessageField(forms.CharField):
    """The card's message, its line breaks counted as one character each: a browser sends a
    textarea's breaks as CR LF, which would count twice against the limit."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class GiftCardBuyForm(forms.Form):
    """`amount` is a listed denomination ("25.00") or any amount within the limits; the page's
    "Other amount" radio posts `amount=custom` with the figure in `custom_amount`."""

    amount = forms.CharField(
        max_length=20, error_messages={"required": "Choose an amount for the gift card."}
    )
    custom_amount = forms.CharField(max_length=20, required=False)
    design = forms.ChoiceField(
        choices=GiftCardDesign.choices,
        initial=GiftCardDesign.CLASSIC,
        error_messages={"invalid_choice": "Choose one of the designs."},
    )
    delivery = forms.ChoiceField(
        choices=Delivery.choices,
        initial=Delivery.EMAIL,
        error_messages={
            "required": "Choose how to send it: by e-mail or printed.",
            "invalid_choice": "Choose how to send it: by e-mail or printed.",
        },
    )
    recipient_name = forms.CharField(
        max_length=100,
        error_messages={
            "required": "Give the recipient's name: it is printed on the card.",
            "max_length": "The recipient's name can be up to 100 characters.",
        },
    )
    sender_name = forms.CharField(
        max_length=100,
        required=False,
        error_messages={"max_length": "Your name on the card can be up to 100 characters."},
    )
    recipient_email = forms.EmailField(
        required=False,
        max_length=254,
        error_messages={"invalid": "That is not an e-mail address."},
    )
    message = MessageField(
        max_length=GIFTCARD_MESSAGE_MAX,
        required=False,
        widget=forms.Textarea,
        error_messages={
            "max_length": f"The message can be up to {GIFTCARD_MESSAGE_MAX} characters."
        },
    )
    send_on = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Give the day as YYYY-MM-DD."},
    )
    # The gift card product the buyer came from (its page's "Buy" link); optional.
    product = forms.SlugField(max_length=200, required=False)

    def __init__(self, *args, amounts: GiftCardAmounts, today: datetime.date, locale: str, **kw):
        super().__init__(*args, **kw)
        self.amounts = amounts
        self.today = today
        self.locale = locale
        self.designs = design_list()

    # What the template shows -------------------------------------------------------------

    def money(self, minor: int) -> str:
        return format_money(minor, currency=self.amounts.currency, locale=self.locale)

    @property
    def denomination_choices(self) -> list[dict]:
        """The listed amounts as radios: value (major text), label, checked."""
        chosen = self._chosen_amount_text()
        return [
            {
                "value": to_major_text(minor, currency=self.amounts.currency),
                "minor": minor,
                "label": self.money(minor),
                "checked": chosen == to_major_text(minor, currency=self.amounts.currency),
            }
            for minor in self.amounts.denominations
        ]

    @property
    def custom_checked(self) -> bool:
        return self._chosen_amount_text() == CUSTOM

    @property
    def limits_text(self) -> str:
        return f"{self.money(self.amounts.minimum)} to {self.money(self.amounts.maximum)}"

    @property
    def send_on_max(self) -> datetime.date:
        return self.today + datetime.timedelta(days=GIFTCARD_SEND_ON_MAX_DAYS)

    def _chosen_amount_text(self) -> str:
        value = self["amount"].value() or ""
        if not value:
            return ""
        if value == CUSTOM:
            return CUSTOM
        try:
            minor = parse_amount(value, currency=self.amounts.currency)
        except MoneyError:
            return CUSTOM
        if minor in self.amounts.denominations:
            return to_major_text(minor, currency=self.amounts.currency)
        return CUSTOM

    # Cleaning ----------------------------------------------------------------------------

    def clean_amount(self) -> int:
        """Minor units: a listed amount, or the custom one within the region's limits."""
        text = self.cleaned_data["amount"].strip()
        if text == CUSTOM:
            text = (self.data.get("custom_amount") or "").strip()
            if not text:
                raise forms.ValidationError(f"Enter an amount from {self.limits_text}.")
        try:
            minor = parse_amount(text, currency=self.amounts.currency)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if not self.amounts.allows(minor):
            raise forms.ValidationError(
                f"Choose a listed amount or an amount from {self.limits_text}."
            )
        return minor

    def clean_recipient_name(self) -> str:
        name = self.cleaned_data["recipient_name"].strip()
        if not name:
            raise forms.ValidationError("Give the recipient's name: it is printed on the card.")
        return name

    def clean_send_on(self) -> datetime.date | None:
        day = self.cleaned_data["send_on"]
        if day is None:
            return None
        if day < self.today:
            raise forms.ValidationError("Choose today or a later day to send it.")
        if day > self.send_on_max:
            raise forms.ValidationError("Choose a day within the next year to send it.")
        return day

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("delivery") == Delivery.PRINT:
            # Printed by the buyer: no day and no address, whatever the e-mail half of the
            # form still holds from before they switched to print.
            for name, empty in (("send_on", None), ("recipient_email", "")):
                self.errors.pop(name, None)
                cleaned[name] = empty
        email_missing = not cleaned.get("recipient_email") and "recipient_email" not in self.errors
        if cleaned.get("delivery") == Delivery.EMAIL and email_missing:
            self.add_error(
                "recipient_email",
                "Give the recipient's e-mail address: the card is sent there.",
            )
        return cleaned
