"""Bootstrap 5 classes for allauth's form fields and element tags (templates/allauth/elements/).

allauth renders its pages through small "element" templates that receive a bound form or a list
of `tags` ("prominent,login", "danger,delete", …). These filters turn both into Bootstrap markup
so every sign-in, sign-up and security page looks like the rest of the shop.
"""

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString

register = template.Library()

_CHECK_WIDGETS = {"checkbox", "radioselect", "checkboxselectmultiple"}
_SELECT_WIDGETS = {"select", "selectmultiple", "nullbooleanselect"}
_VARIANTS = ("danger", "warning", "success", "secondary", "link", "primary")


def _widget_class(widget_type: str) -> str:
    if widget_type in _CHECK_WIDGETS:
        return "form-check-input"
    if widget_type in _SELECT_WIDGETS:
        return "form-select"
    return "form-control"


@register.filter
def bootstrap_widget(field: BoundField) -> SafeString:
    """Render `field`'s widget with Bootstrap's input class, `is-invalid` when it has errors."""
    classes = [field.field.widget.attrs.get("class", ""), _widget_class(field.widget_type)]
    if field.errors:
        classes.append("is-invalid")
    return field.as_widget(attrs={"class": " ".join(c for c in classes if c)})


@register.filter
def is_check(field: BoundField) -> bool:
    """A single checkbox, laid out as a `form-check` with the label after the box."""
    return field.widget_type == "checkbox"


def _tags(tags) -> list[str]:
    return list(tags or [])


@register.filter
def button_classes(tags) -> str:
    """Bootstrap button classes for an allauth button's `tags` (colour, outline, size)."""
    tags = _tags(tags)
    variant = next((v for v in _VARIANTS if v in tags), None)
    if variant is None:
        # Cancel and "go back" buttons are secondary unless allauth says otherwise.
        variant = "secondary" if "cancel" in tags else "primary"
    if variant == "link":
        classes = ["btn", "btn-link", "px-0"]
    elif "outline" in tags:
        classes = ["btn", f"btn-outline-{variant}"]
    else:
        classes = ["btn", f"btn-{variant}"]
    if "prominent" in tags:
        classes += ["btn-lg", "w-100"]
    elif "minor" in tags or "panel" in tags:
        classes.append("btn-sm")
    return " ".join(classes)


@register.filter
def badge_classes(tags) -> str:
    """Bootstrap badge classes for an allauth badge's `tags` (verified, unverified, primary)."""
    tags = _tags(tags)
    variant = next((v for v in ("success", "warning", "danger") if v in tags), None)
    if variant is None:
        variant = "primary" if "primary" in tags else "secondary"
    return f"badge rounded-pill text-bg-{variant}"


@register.filter
def alert_classes(tags) -> str:
    """Bootstrap alert classes for an allauth alert's `tags`; informational by default."""
    tags = _tags(tags)
    variant = next((v for v in ("danger", "warning", "success") if v in tags), "info")
    return f"alert alert-{variant}"
