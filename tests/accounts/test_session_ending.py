"""Turning two-factor on or off, or changing or resetting the password, ends the account's
other sessions; the session that made the change goes on (docs/interface.md §9).

Two browsers are two `Client`s. The two-factor tests are transactional: allauth announces a
new authenticator only once its row is committed, as it is outside a test transaction.
"""

import re
from types import SimpleNamespace

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client, override_settings

from tests.accounts.factories import PASSWORD, UserFactory, enable_totp, totp_code
from tests.accounts.two_factor import login_staff
from tests.wallet.staff import superuser

NOW = 1_800_000_005.0  # 5 s into a 30 s TOTP step
NEW_PASSWORD = "brand-new-horse-2027"


@pytest.fixture(autouse=True)
def _totp_clock(monkeypatch):
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", SimpleNamespace(time=lambda: NOW))


def _signed_in(user, secret: str | None = None) -> Client:
    """A browser signed in through allauth's pages (with the code when two-factor is on)."""
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    if secret is not None:
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, at=NOW)})
    assert response.status_code == 302
    assert get_user(client) == user
    return client


def _totp_activate(client) -> str:
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret, at=NOW)})
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    return secret


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_turning_two_factor_on_ends_the_other_sessions():
    user = UserFactory()
    here, elsewhere = _signed_in(user), _signed_in(user)

    _totp_activate(here)

    assert Authenticator.objects.filter(user=user, type="totp").exists()
    assert get_user(here) == user
    assert here.get("/wallet/").status_code == 200
    assert not get_user(elsewhere).is_authenticated
    assert elsewhere.get("/wallet/")["Location"] == "/accounts/login/?next=/wallet/"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_turning_two_factor_off_ends_the_other_sessions():
    user = UserFactory()
    secret = enable_totp(user)
    here = _signed_in(user, secret)
    elsewhere = Client()  # a code signs in only once: the second browser is signed in directly
    elsewhere.force_login(user)
    assert get_user(elsewhere) == user
    here.post("/accounts/reauthenticate/", {"password": PASSWORD})

    response = here.post("/accounts/2fa/totp/deactivate/")

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=user).exists()
    assert get_user(here) == user
    assert not get_user(elsewhere).is_authenticated


@pytest.mark.django_db
def test_deleting_someones_authenticator_in_the_admin_ends_their_sessions():
    owner = UserFactory()
    secret = enable_totp(owner)
    theirs = _signed_in(owner, secret)
    boss = login_staff(Client(), superuser())
    totp = Authenticator.objects.get(user=owner, type="totp")

    response = boss.post(f"/admin/mfa/authenticator/{totp.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=totp.pk).exists()
    assert not get_user(theirs).is_authenticated
    assert boss.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_changing_the_password_ends_the_other_sessions():
    user = UserFactory()
    here, elsewhere = _signed_in(user), _signed_in(user)

    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert get_user(here) == user
    assert not get_user(elsewhere).is_authenticated


@pytest.mark.django_db
def test_resetting_the_password_ends_every_session(client, mailoutbox):
    user = UserFactory()
    signed_in = _signed_in(user)
    client.post("/accounts/password/reset/", {"email": user.email})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mailoutbox[0].body)
    form_url = client.get(link.group(1))["Location"]

    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response["Location"] == "/accounts/password/reset/key/done/"
    assert not get_user(signed_in).is_authenticated


@pytest.mark.django_db
def test_accounts_that_never_had_two_factor_keep_their_sessions_across_the_upgrade():
    """Epoch 0 is Django's own HMAC, so deploying this signs no one out."""
    user = UserFactory()

    assert user.session_epoch == 0
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)


@pytest.mark.django_db
def test_a_rotated_secret_key_keeps_two_factor_sessions():
    """SECRET_KEY_FALLBACKS still verify a session made under the old key."""
    user = UserFactory()
    secret = enable_totp(user)
    with override_settings(SECRET_KEY="old-secret-key-" + "y" * 40):
        client = _signed_in(user, secret)

    with override_settings(
        SECRET_KEY="new-secret-key-" + "z" * 40,
        SECRET_KEY_FALLBACKS=["old-secret-key-" + "y" * 40],
    ):
        assert get_user(client) == user
