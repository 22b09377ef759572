"""/admin/ signs in through the shop's sign-in (allauth): its rate limits and its two-factor
step apply, and a password posted to Django's admin login is never checked
(docs/interface.md §9)."""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.models import Permission

from tests.accounts.factories import PASSWORD, UserFactory, enable_totp, totp_code
from tests.accounts.two_factor import login_staff
from tests.wallet.staff import ISSUERS, staff_user, superuser

pytestmark = pytest.mark.django_db

NOW = 1_800_000_005.0  # 5 s into a 30 s TOTP step
WRONG = "wrong-horse-2026"


@pytest.fixture(autouse=True)
def _totp_clock(monkeypatch):
    """allauth's TOTP check reads the clock; pin it so a code cannot expire mid-test."""
    monkeypatch.setattr("allauth.mfa.totp.internal.auth.time", SimpleNamespace(time=lambda: NOW))


def test_admin_sends_anonymous_visitors_to_its_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


@pytest.mark.parametrize(
    ("query", "next_url"),
    [
        ("?next=/admin/wallet/giftcard/", "%2Fadmin%2Fwallet%2Fgiftcard%2F"),
        ("", "%2Fadmin%2F"),
        ("?next=https://evil.example/admin/", "%2Fadmin%2F"),
        ("?next=//evil.example/", "%2Fadmin%2F"),
    ],
)
def test_the_admin_login_leads_to_the_shop_sign_in(client, query, next_url):
    response = client.get(f"/admin/login/{query}")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={next_url}"


@pytest.mark.parametrize("two_factor", [False, True], ids=["password-only", "totp-on"])
def test_a_password_posted_to_the_admin_login_never_signs_in(client, two_factor):
    """The attack: Django's admin login form accepted the password alone, 2FA or not."""
    staff = superuser()
    if two_factor:
        enable_totp(staff)

    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.email, "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert not get_user(client).is_authenticated
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
    staff.refresh_from_db()
    assert staff.last_login is None


def test_staff_with_totp_need_the_code_as_well_as_the_password(client, sign_in):
    staff = superuser()
    secret = enable_totp(staff)

    login = client.post(
        "/accounts/login/?next=/admin/", {"login": staff.email, "password": PASSWORD}
    )

    assert login["Location"] == "/accounts/2fa/authenticate/"
    assert not get_user(client).is_authenticated
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"

    done = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, at=NOW)})

    assert done.status_code == 302
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_sixty_wrong_passwords_through_the_admin_login_are_throttled(client):
    """The attack: 60 wrong passwords in a row at /admin/login/ were never throttled. Now the
    admin login checks none of them; following its redirect to allauth's sign-in, the fifth
    failure for the address locks it (ACCOUNT_RATE_LIMITS login_failed) and the 31st attempt
    in a minute from one IP is answered 429 (allauth's `login` limit)."""
    staff = superuser()
    statuses, locked = [], []
    for _ in range(60):
        bounce = client.post(
            "/admin/login/?next=/admin/", {"username": staff.email, "password": WRONG}
        )
        assert bounce["Location"] == "/accounts/login/?next=%2Fadmin%2F"
        attempt = client.post(bounce["Location"], {"login": staff.email, "password": WRONG})
        statuses.append(attempt.status_code)
        locked.append(b"Too many failed login attempts" in attempt.content)

    assert statuses == [200] * 30 + [429] * 30
    assert locked == [False] * 5 + [True] * 25 + [False] * 30
    right = client.post(
        "/accounts/login/?next=/admin/", {"login": staff.email, "password": PASSWORD}
    )
    assert right.status_code == 429
    assert not get_user(client).is_authenticated


def test_a_signed_in_shopper_is_refused_by_the_admin(shopper_client):
    bounced = shopper_client.get("/admin/")
    assert bounced.status_code == 302
    assert bounced["Location"] == "/admin/login/?next=/admin/"

    # Sending them on to the sign-in page would bounce them straight back here.
    assert shopper_client.get(bounced["Location"]).status_code == 403


def test_signed_in_staff_at_the_admin_login_go_on_to_next(client):
    login_staff(client, superuser())

    response = client.get("/admin/login/?next=/admin/wallet/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/wallet/"


def test_the_admin_logout_signs_out_through_allauth(client):
    staff = superuser()
    login_staff(client, staff)

    assert client.get("/admin/logout/").status_code == 200  # allauth asks; GET never signs out
    assert get_user(client) == staff
    response = client.post("/admin/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not get_user(client).is_authenticated


def test_the_admin_logout_button_posts_to_allauth(client):
    login_staff(client, staff_user(ISSUERS))

    page = client.get("/admin/").content.decode()

    assert 'action="/admin/logout/"' in page
    assert client.post("/admin/logout/").status_code == 302
    assert not get_user(client).is_authenticated


def test_staff_who_move_no_value_reach_the_admin_with_the_password(client):
    """Two-factor is required of value-moving staff only; a read-only clerk signs in as any
    shopper does (still through allauth's sign-in and its limits)."""
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))

    client.post("/accounts/login/?next=/admin/", {"login": clerk.email, "password": PASSWORD})

    assert client.get("/admin/").status_code == 200
