import re
import time
from types import SimpleNamespace

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user

from accounts.models import User
from tests.accounts.factories import (
    PASSWORD,
    UserFactory,
    enable_recovery_codes,
    enable_totp,
    totp_code,
)

NOW = float(int(time.time()) // 30 * 30 + 5)  # 5 s into a 30 s TOTP step


@pytest.fixture(autouse=True)
def _totp_clock(monkeypatch):
    """allauth's TOTP check reads the clock; pin it so a code cannot expire mid-test."""
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", SimpleNamespace(time=lambda: NOW))


def _authenticator_types(user):
    return set(Authenticator.objects.filter(user=user).values_list("type", flat=True))


@pytest.mark.django_db
def test_activating_totp_needs_the_password_again(client, user, sign_in):
    sign_in(user.email)

    response = client.get("/accounts/2fa/totp/activate/")

    assert response.status_code == 302
    assert (
        response["Location"]
        == "/accounts/reauthenticate/?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    )


@pytest.mark.django_db
def test_activate_totp_then_login_asks_for_the_code(client, user, sign_in):
    sign_in(user.email)
    reauth = client.post(
        "/accounts/reauthenticate/?next=/accounts/2fa/totp/activate/",
        {"password": PASSWORD, "next": "/accounts/2fa/totp/activate/"},
    )
    assert reauth["Location"] == "/accounts/2fa/totp/activate/"
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    assert f'value="{secret}"' in page.content.decode()

    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert b'data-testid="form-error" data-reason="code"' in wrong.content
    assert _authenticator_types(user) == set()

    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret, at=NOW)})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    assert _authenticator_types(user) == {"totp", "recovery_codes"}

    client.post("/accounts/logout/")
    login = sign_in(user.email)
    assert login.status_code == 302
    assert login["Location"] == "/accounts/2fa/authenticate/"
    assert not get_user(client).is_authenticated

    challenge = client.get("/accounts/2fa/authenticate/")
    assert challenge.status_code == 200
    assert b'name="code"' in challenge.content
    done = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, at=NOW)})
    assert done.status_code == 302
    assert done["Location"] == "/wallet/"
    assert get_user(client) == user


@pytest.mark.django_db
def test_login_refuses_a_wrong_totp_code(client, sign_in):
    user = UserFactory()
    secret = enable_totp(user)
    sign_in(user.email)

    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, at=NOW - 60)})

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="code"' in response.content
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_a_totp_code_signs_in_only_once(client, sign_in):
    user = UserFactory()
    secret = enable_totp(user)
    code = totp_code(secret, at=NOW)
    sign_in(user.email)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    client.post("/accounts/logout/")

    sign_in(user.email)
    replay = client.post("/accounts/2fa/authenticate/", {"code": code})

    assert replay.status_code == 200
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_the_password_alone_does_not_sign_in_a_totp_user(client, sign_in):
    user = UserFactory()
    enable_totp(user)

    sign_in(user.email)

    assert not get_user(client).is_authenticated
    assert client.get("/wallet/")["Location"] == "/accounts/login/?next=/wallet/"


@pytest.mark.django_db
def test_a_recovery_code_signs_in_once(client, sign_in):
    user = UserFactory()
    enable_totp(user)
    first, second, *_ = enable_recovery_codes(user)
    sign_in(user.email)
    assert client.post("/accounts/2fa/authenticate/", {"code": first})["Location"] == "/wallet/"
    assert get_user(client) == user
    client.post("/accounts/logout/")

    sign_in(user.email)
    reused = client.post("/accounts/2fa/authenticate/", {"code": first})
    assert reused.status_code == 200
    assert b'data-testid="form-error" data-reason="code"' in reused.content
    assert not get_user(client).is_authenticated

    fresh = client.post("/accounts/2fa/authenticate/", {"code": second})
    assert fresh.status_code == 302
    assert get_user(client) == user


@pytest.mark.django_db
def test_deactivating_totp_stops_the_challenge(client, user, sign_in):
    secret = enable_totp(user)
    enable_recovery_codes(user)
    sign_in(user.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, at=NOW)})
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    response = client.post("/accounts/2fa/totp/deactivate/")

    assert response.status_code == 302
    assert _authenticator_types(user) == set()
    client.post("/accounts/logout/")
    assert sign_in(user.email)["Location"] == "/wallet/"


@pytest.mark.django_db
def test_generating_recovery_codes_retires_the_old_ones(client, user, sign_in):
    enable_totp(user)
    old = enable_recovery_codes(user)
    sign_in(user.email)
    client.post("/accounts/2fa/authenticate/", {"code": old[0]})
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    response = client.post("/accounts/2fa/recovery-codes/generate/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    page = client.get("/accounts/2fa/recovery-codes/")
    new = page.context["unused_codes"]
    assert set(new).isdisjoint(old)
    client.post("/accounts/logout/")
    sign_in(user.email)
    assert client.post("/accounts/2fa/authenticate/", {"code": old[1]}).status_code == 200
    assert client.post("/accounts/2fa/authenticate/", {"code": new[0]}).status_code == 302


@pytest.mark.django_db
def test_a_new_shopper_verifies_the_address_before_turning_on_totp(client, signup_data, mailoutbox):
    client.post("/accounts/signup/", signup_data())
    user = User.objects.get()

    index = client.get("/accounts/2fa/")
    assert b'data-testid="mfa-needs-verified-email"' in index.content
    assert b"Authenticator App" in index.content  # allauth's own page, below our notice
    refused = client.get("/accounts/2fa/totp/activate/")
    assert refused["Location"] == "/accounts/2fa/"

    key = re.search(r"/accounts/confirm-email/([-:\w]+)/", mailoutbox[0].body).group(1)
    confirm_page = client.get(f"/accounts/confirm-email/{key}/")
    assert confirm_page.status_code == 200
    client.post(f"/accounts/confirm-email/{key}/")
    assert EmailAddress.objects.get(user=user).verified

    index = client.get("/accounts/2fa/")
    assert b'data-testid="mfa-needs-verified-email"' not in index.content
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200
