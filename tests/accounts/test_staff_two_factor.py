"""Staff who can move value reach /admin/ only from a session that proved two-factor
(accounts/staff_access.py, docs/interface.md §9)."""

from types import SimpleNamespace

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages

from accounts.staff_access import CONFIRM_MESSAGE, SET_UP_MESSAGE, user_moves_value
from accounts.two_factor import SESSION_KEY
from tests.accounts.factories import (
    PASSWORD,
    UserFactory,
    enable_recovery_codes,
    enable_totp,
    totp_code,
)
from tests.accounts.two_factor import login_staff
from tests.wallet.staff import ADJUSTERS, APPROVERS, ISSUERS, staff_user, superuser
from wallet.models import GiftCardBatch

pytestmark = pytest.mark.django_db

NOW = 1_800_000_005.0  # 5 s into a 30 s TOTP step
ADMIN_PAGES = ["/admin/", "/admin/wallet/giftcardbatch/", "/admin/password_change/"]


@pytest.fixture(autouse=True)
def _totp_clock(monkeypatch):
    """allauth's TOTP check reads the clock; pin it so a code cannot expire mid-test."""
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", SimpleNamespace(time=lambda: NOW))


def _refunder():
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="refund_order"))
    return staff


def _renamed_adjusters():
    """A group of any name holding a value-moving permission counts, not only ours."""
    group = Group.objects.create(name="Customer care")
    group.permissions.add(Permission.objects.get(codename="adjust_balance"))
    staff = UserFactory(is_staff=True)
    staff.groups.add(group)
    return staff


VALUE_MOVERS = {
    "issuer": lambda: staff_user(ISSUERS),
    "approver": lambda: staff_user(APPROVERS),
    "adjuster": lambda: staff_user(ADJUSTERS),
    "refunder": _refunder,
    "custom-group": _renamed_adjusters,
    "superuser": superuser,
}


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _password_sign_in(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert get_user(client) == user


@pytest.mark.parametrize("make", VALUE_MOVERS.values(), ids=VALUE_MOVERS.keys())
def test_value_moving_staff_without_two_factor_are_sent_to_set_it_up(client, make):
    staff = make()
    assert user_moves_value(staff)
    _password_sign_in(client, staff)

    for page in ADMIN_PAGES:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == "/accounts/2fa/totp/activate/", page
        assert SET_UP_MESSAGE in _messages(response)


@pytest.mark.parametrize("make", VALUE_MOVERS.values(), ids=VALUE_MOVERS.keys())
def test_value_moving_staff_who_proved_two_factor_reach_the_admin(client, make):
    login_staff(client, make())

    assert client.get("/admin/").status_code == 200


def test_a_post_to_the_admin_without_two_factor_changes_nothing(client):
    staff = staff_user(ISSUERS)
    _password_sign_in(client, staff)

    response = client.post("/admin/wallet/giftcardbatch/add/", {"name": "x", "count": "1"})

    assert response["Location"] == "/accounts/2fa/totp/activate/"
    assert not GiftCardBatch.objects.exists()


def test_the_way_to_set_up_two_factor_stays_open(client):
    staff = staff_user(ADJUSTERS)
    _password_sign_in(client, staff)

    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith(
        "/accounts/reauthenticate/"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_setting_up_two_factor_from_the_redirect_opens_the_admin(client):
    """The journey of the demo admin on first visit: password, set up the app, admin.
    (Transactional: allauth announces the new authenticator once its row is committed.)"""
    staff = superuser()
    _password_sign_in(client, staff)
    setup = client.get("/admin/")["Location"]
    reauth = client.get(setup)["Location"]
    client.post(reauth, {"password": PASSWORD, "next": setup})
    page = client.get(setup)
    assert page.status_code == 200
    secret = page.context["form"].secret

    done = client.post(setup, {"code": totp_code(secret, at=NOW)})

    assert done["Location"] == "/accounts/2fa/recovery-codes/"
    assert get_user(client) == staff
    assert client.get("/admin/").status_code == 200


def test_a_session_signed_in_before_two_factor_was_on_must_confirm_a_code(client):
    """Two-factor turned on elsewhere (another session, or before this one began) does not
    make a password-only session count: it is asked for a code, then goes on."""
    staff = staff_user(APPROVERS)
    secret = enable_totp(staff)
    client.force_login(staff)  # a session that never used the second factor

    response = client.get("/admin/wallet/giftcardbatch/?o=1")

    confirm = "/accounts/2fa/reauthenticate/?next=%2Fadmin%2Fwallet%2Fgiftcardbatch%2F%3Fo%3D1"
    assert response["Location"] == confirm
    assert CONFIRM_MESSAGE in _messages(response)
    assert client.get(confirm).status_code == 200
    wrong = client.post(confirm, {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get("/admin/").status_code == 302

    right = client.post(confirm, {"code": totp_code(secret, at=NOW)})

    assert right["Location"] == "/admin/wallet/giftcardbatch/?o=1"
    assert client.get("/admin/wallet/giftcardbatch/").status_code == 200


def test_a_recovery_code_sign_in_counts_as_the_second_factor(client):
    staff = staff_user(ISSUERS)
    enable_totp(staff)
    first, *_ = enable_recovery_codes(staff)
    client.post("/accounts/login/?next=/admin/", {"login": staff.email, "password": PASSWORD})

    done = client.post("/accounts/2fa/authenticate/", {"code": first})

    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_turning_two_factor_off_closes_the_admin_to_this_session_too(client):
    staff = staff_user(ADJUSTERS)
    login_staff(client, staff)
    assert client.get("/admin/").status_code == 200
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    client.post("/accounts/2fa/totp/deactivate/")

    assert not Authenticator.objects.filter(user=staff, type="totp").exists()
    assert get_user(client) == staff  # still signed in, but no longer trusted with the admin
    assert client.get("/admin/")["Location"] == "/accounts/2fa/totp/activate/"


def test_the_second_factor_mark_belongs_to_one_account(client):
    staff = superuser()
    enable_totp(staff)
    staff.refresh_from_db()
    client.force_login(staff)
    session = client.session
    session[SESSION_KEY] = [str(staff.pk + 1), staff.session_epoch]  # someone else's
    session.save()

    assert client.get("/admin/")["Location"].startswith("/accounts/2fa/reauthenticate/")


def test_a_leftover_recovery_code_does_not_count_without_the_app(client):
    """Recovery codes left behind when the TOTP row was deleted elsewhere prove nothing."""
    staff = superuser()
    enable_totp(staff)
    codes = enable_recovery_codes(staff)
    Authenticator.objects.filter(user=staff, type="totp").delete()
    _password_sign_in(client, staff)  # no challenge any more: no app
    client.post("/accounts/2fa/reauthenticate/", {"code": codes[0]})

    assert client.get("/admin/")["Location"] == "/accounts/2fa/totp/activate/"


def test_shoppers_and_plain_staff_do_not_move_value():
    assert not user_moves_value(UserFactory())
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    assert not user_moves_value(clerk)
