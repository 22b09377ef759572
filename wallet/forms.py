from django import forms


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
