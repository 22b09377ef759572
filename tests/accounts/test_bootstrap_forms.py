import pytest
from django import forms

from accounts.templatetags.bootstrap_forms import (
    alert_classes,
    badge_classes,
    bootstrap_widget,
    button_classes,
    is_check,
)


class _Form(forms.Form):
    email = forms.EmailField()
    region = forms.ChoiceField(choices=[("US", "United States"), ("JP", "Japan")])
    remember = forms.BooleanField(required=False)


@pytest.mark.parametrize(
    ("tags", "classes"),
    [
        (None, "btn btn-primary"),
        (["prominent", "login"], "btn btn-primary btn-lg w-100"),
        (["danger", "delete", "panel"], "btn btn-danger btn-sm"),
        (["secondary", "panel"], "btn btn-secondary btn-sm"),
        (["outline", "cancel"], "btn btn-outline-secondary"),
        (["outline", "primary"], "btn btn-outline-primary"),
        (["link", "cancel"], "btn btn-link px-0"),
        (["minor", "danger"], "btn btn-danger btn-sm"),
    ],
)
def test_button_classes(tags, classes):
    assert button_classes(tags) == classes


@pytest.mark.parametrize(
    ("tags", "classes"),
    [
        (["success", "email", "verified"], "badge rounded-pill text-bg-success"),
        (["warning", "email", "unverified"], "badge rounded-pill text-bg-warning"),
        (["email", "primary"], "badge rounded-pill text-bg-primary"),
        (None, "badge rounded-pill text-bg-secondary"),
    ],
)
def test_badge_classes(tags, classes):
    assert badge_classes(tags) == classes


def test_alert_classes_default_to_info():
    assert alert_classes(None) == "alert alert-info"
    assert alert_classes(["danger"]) == "alert alert-danger"


def test_bootstrap_widget_picks_the_input_class():
    form = _Form()

    assert 'class="form-control"' in bootstrap_widget(form["email"])
    assert 'class="form-select"' in bootstrap_widget(form["region"])
    assert 'class="form-check-input"' in bootstrap_widget(form["remember"])
    assert is_check(form["remember"])
    assert not is_check(form["email"])


def test_bootstrap_widget_marks_a_field_with_errors():
    form = _Form(data={"email": "not-an-address", "region": "US"})
    form.is_valid()

    html = bootstrap_widget(form["email"])

    assert 'class="form-control is-invalid"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_email_error"' in html
