"""Every allauth page a shopper meets renders inside base.html, in Bootstrap, with no CDN."""

import re
import time
from types import SimpleNamespace

import pytest

from tests.accounts.factories import (
    PASSWORD,
    UserFactory,
    enable_recovery_codes,
    enable_totp,
    totp_code,
)

TAG = re.compile(r"<(input|select|textarea|button|a)\b[^>]*>", re.S)


def _card(html: str) -> str:
    """The part of the page allauth renders: from our layout's card to the footer."""
    match = re.search(r'data-testid="allauth-(entrance|manage)".*?<footer', html, re.S)
    assert match, "the page is not inside an allauth layout card"
    return match.group(0)


def assert_one_product(response) -> None:
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<!doctype html>")
    assert '<link rel="stylesheet" href="/static/vendor/bootstrap/bootstrap.min.css">' in html
    assert 'class="navbar ' in html
    assert re.search(r"<title>.+· Coinpurse</title>", html, re.S)
    assert not re.search(r'<(script|link|img)\b[^>]*(src|href)="(https?:)?//', html)  # no CDN
    for tag in TAG.finditer(_card(html)):
        markup, kind = tag.group(0), tag.group(1)
        type_ = re.search(r'type="(\w+)"', markup)
        type_ = type_.group(1) if type_ else ""
        if kind == "input" and type_ == "hidden":
            continue
        if kind == "input" and type_ in ("checkbox", "radio"):
            assert "form-check-input" in markup, markup
        elif kind in ("input", "textarea"):
            assert "form-control" in markup, markup
        elif kind == "select":
            assert "form-select" in markup, markup
        elif kind == "button" or (kind == "a" and "data-allauth-tags" in markup):
            assert re.search(r'class="btn btn-', markup), markup


@pytest.fixture
def pinned_totp_clock(monkeypatch):
    now = float(int(time.time()) // 30 * 30 + 5)
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", SimpleNamespace(time=lambda: now))
    return now


@pytest.fixture
def mfa_client(client, sign_in, pinned_totp_clock):
    """A shopper with an authenticator app, signed in with both factors, just reauthenticated."""
    user = UserFactory()
    secret = enable_totp(user)
    enable_recovery_codes(user)
    sign_in(user.email)
    response = client.post(
        "/accounts/2fa/authenticate/", {"code": totp_code(secret, at=pinned_totp_clock)}
    )
    assert response.status_code == 302
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/password/reset/key/done/",
        "/accounts/password/reset/key/1-not-a-key/",
        "/accounts/inactive/",
        "/accounts/confirm-email/",
        "/accounts/confirm-email/not-a-key/",
    ],
)
def test_entrance_pages_look_like_the_shop(client, path):
    response = client.get(path, follow=True)

    assert_one_product(response)
    assert b'data-testid="allauth-entrance"' in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "layout"),
    [
        ("/accounts/logout/", "entrance"),
        ("/accounts/email/", "manage"),
        ("/accounts/password/change/", "manage"),
        ("/accounts/2fa/", "manage"),
        ("/accounts/reauthenticate/", "entrance"),
        ("/accounts/2fa/totp/activate/", "manage"),
    ],
)
def test_signed_in_pages_look_like_the_shop(reauthenticated_client, path, layout):
    response = reauthenticated_client.get(path)

    assert_one_product(response)
    assert f'data-testid="allauth-{layout}"'.encode() in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "layout"),
    [
        ("/accounts/2fa/", "manage"),
        ("/accounts/2fa/totp/deactivate/", "manage"),
        ("/accounts/2fa/recovery-codes/", "manage"),
        ("/accounts/2fa/recovery-codes/generate/", "manage"),
        ("/accounts/2fa/reauthenticate/", "entrance"),
        ("/accounts/reauthenticate/", "entrance"),
    ],
)
def test_two_factor_pages_look_like_the_shop(mfa_client, path, layout):
    response = mfa_client.get(path)

    assert_one_product(response)
    assert f'data-testid="allauth-{layout}"'.encode() in response.content


@pytest.mark.django_db
def test_two_factor_challenge_looks_like_the_shop(client, sign_in):
    user = UserFactory()
    enable_totp(user)
    sign_in(user.email)

    response = client.get("/accounts/2fa/authenticate/")

    assert_one_product(response)
    assert b"recovery" in response.content


@pytest.mark.django_db
def test_set_password_page_looks_like_the_shop(client, sign_in):
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    client.force_login(user)

    response = client.get("/accounts/password/set/")

    assert_one_product(response)
    assert b'data-testid="allauth-manage"' in response.content


@pytest.mark.django_db
def test_refused_login_shows_bootstrap_errors(client, user, sign_in):
    response = sign_in(user.email, "wrong-horse-2026")

    html = response.content.decode()
    assert_one_product(response)
    assert re.search(r'<div class="alert alert-danger[^"]*"[^>]* data-reason="invalid">', html)


@pytest.mark.django_db
def test_refused_signup_marks_each_bad_field(client, signup_data):
    response = client.post(
        "/accounts/signup/", signup_data(email="not-an-address", password2="x", region="XX")
    )

    html = response.content.decode()
    assert_one_product(response)
    reasons = re.findall(r'data-testid="form-error" data-reason="(\w+)"', html)
    assert sorted(reasons) == ["email", "password2", "region"]
    assert html.count("is-invalid") == 3
    assert html.count('class="invalid-feedback d-block"') == 3
    assert 'aria-describedby="id_region_helptext id_region_error"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("extra_users", [0, 30])
def test_signup_page_query_count(client, django_assert_num_queries, extra_users):
    UserFactory.create_batch(extra_users)

    # The regions, twice: Django's Select reads the first choice to decide on `required`,
    # then renders the options. No session, no user: the page is the same for everyone.
    with django_assert_num_queries(2):
        response = client.get("/accounts/signup/")

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("extra_users", [0, 30])
def test_login_page_query_count(client, django_assert_num_queries, extra_users):
    UserFactory.create_batch(extra_users)

    with django_assert_num_queries(0):
        response = client.get("/accounts/login/")

    assert response.status_code == 200


@pytest.mark.django_db
def test_email_confirmation_page_looks_like_the_shop(client, signup_data, mailoutbox):
    client.post("/accounts/signup/", signup_data())
    link = re.search(r"/accounts/confirm-email/[-:\w]+/", mailoutbox[0].body).group(0)

    response = client.get(link)

    assert_one_product(response)
    assert b"new.shopper@example.com" in response.content
