"""The points conversion form of /wallet/points/ (docs/interface.md §13): input shape only.
Whether the number is a whole step of 500 and whether the shopper has that many points is
the service's to judge (`points_convert`), so the page and any other caller refuse alike."""

import re

from django import forms

# More points than any balance could hold: refused as typed, before it reaches the database
# (a 20-digit number would not fit a PostgreSQL bigint and end in an error page).
POINTS_MOST = 1_000_000_000
# Digits, with or without thousands commas ("1,500"); nothing else is a number of points.
_POINTS_TYPED = re.compile(r"[0-9]+|[0-9]{1,3}(,[0-9]{3})+")
_WHOLE_NUMBER = "Type the number of points to convert as a whole number, such as 500."
_TOO_MANY = (
    "That is more points than any balance holds: type the number you want to convert, such as 500."
)
_EXPIRED = "This form has expired. Open the page again and convert from there."


class PointsConvertForm(forms.Form):
    """`points`: how many points to convert (digits only); `idempotency_key`: 32 hex digits
    the page renders, so a double click or a replayed form converts once."""

    points = forms.CharField(
        label="Points to convert",
        max_length=20,
        strip=True,
        error_messages={
            "required": "Type how many points to convert: 500, 1,000, 1,500 and so on.",
            "max_length": _WHOLE_NUMBER,
            "null_characters_not_allowed": _WHOLE_NUMBER,
        },
    )
    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$",
        max_length=32,
        widget=forms.HiddenInput,
        error_messages={
            "required": _EXPIRED,
            "invalid": _EXPIRED,
            "max_length": _EXPIRED,
            "null_characters_not_allowed": _EXPIRED,
        },
    )

    def clean_points(self) -> int:
        text = self.cleaned_data["points"]
        if not _POINTS_TYPED.fullmatch(text):
            # "-500", "5e2", "500.0", "5,00", "five hundred": none is a number of points.
            raise forms.ValidationError(_WHOLE_NUMBER, code="invalid")
        points = int(text.replace(",", ""))
        if points == 0:
            raise forms.ValidationError(
                "Type how many points to convert: 500, 1,000, 1,500 and so on.",
                code="not_multiple",
            )
        if points > POINTS_MOST:
            raise forms.ValidationError(_TOO_MANY, code="too_large")
        return points

    def error_reason(self) -> tuple[str, str]:
        """The refusal's `data-reason` and message: the first field that is wrong (a form that
        expired first, since its points cannot be converted from it anyway)."""
        errors = self.errors.as_data()
        if "idempotency_key" in errors:
            return "expired", errors["idempotency_key"][0].messages[0]
        if "points" in errors:
            error = errors["points"][0]
            if error.code == "max_length" and _POINTS_TYPED.fullmatch(
                str(self.data.get("points", "")).strip()
            ):
                # Digits too many for the field: a number, too large (docs/interface.md §13).
                return "too_large", _TOO_MANY
            code = error.code if error.code in ("required", "too_large", "not_multiple") else None
            return code or "invalid", error.messages[0]
        return "invalid", "Check the form and try again."
