import pytest
from django.contrib.auth import get_user
from django.test import Client

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory


@pytest.mark.django_db
def test_login_with_the_right_password_signs_in(client, user, sign_in):
    response = sign_in(user.email)

    assert response.status_code == 302
    assert response["Location"] == "/wallet/"
    assert get_user(client) == user


@pytest.mark.django_db
def test_login_is_case_insensitive_in_the_email(client, user, sign_in):
    response = sign_in(user.email.upper())

    assert response.status_code == 302
    assert get_user(client) == user


@pytest.mark.django_db
def test_login_follows_next(client, user):
    response = client.post(
        "/accounts/login/?next=/gift-cards/redeem/",
        {"login": user.email, "password": PASSWORD, "next": "/gift-cards/redeem/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/gift-cards/redeem/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("login", "password"),
    [
        ("shopper@example.com", "wrong-horse-2026"),
        ("nobody@example.com", PASSWORD),
    ],
)
def test_login_with_bad_credentials_is_refused(client, sign_in, login, password):
    UserFactory(email="shopper@example.com")

    response = sign_in(login, password)

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="invalid"' in response.content
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_login_of_an_inactive_user_is_refused(client, sign_in):
    user = UserFactory(is_active=False)

    response = sign_in(user.email)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/inactive/"
    assert not get_user(client).is_authenticated


@pytest.mark.django_db
def test_logout_by_post_signs_out(shopper_client):
    response = shopper_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not get_user(shopper_client).is_authenticated


@pytest.mark.django_db
def test_logout_by_get_only_asks(shopper_client, user):
    response = shopper_client.get("/accounts/logout/")

    assert response.status_code == 200
    assert get_user(shopper_client) == user
    html = response.content.decode()
    assert 'action="/accounts/logout/"' in html
    assert 'method="post"' in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/wallet/", "/gift-cards/redeem/"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.django_db
def test_signup_without_csrf_token_is_forbidden():
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD, "region": "US"},
    )

    assert response.status_code == 403
    assert not User.objects.exists()


@pytest.mark.django_db
def test_login_without_csrf_token_is_forbidden(user):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert response.status_code == 403
    assert not get_user(client).is_authenticated
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.django_db
def test_logout_without_csrf_token_is_forbidden(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/accounts/logout/")

    assert response.status_code == 403
    assert get_user(client) == user


@pytest.mark.django_db
def test_login_with_the_page_csrf_token_works(user):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = page.context["csrf_token"]

    response = client.post(
        "/accounts/login/",
        {"login": user.email, "password": PASSWORD, "csrfmiddlewaretoken": str(token)},
    )

    assert response.status_code == 302
    assert get_user(client) == user


@pytest.mark.django_db
def test_login_locks_after_repeated_failures(client, user, sign_in):
    for _ in range(5):
        assert sign_in(user.email, "wrong-horse-2026").status_code == 200

    response = sign_in(user.email)

    assert response.status_code == 200
    assert b'data-testid="form-error" data-reason="invalid"' in response.content
    assert not get_user(client).is_authenticated
