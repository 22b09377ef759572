import pytest

from tests.accounts.factories import PASSWORD


@pytest.fixture
def signup_data():
    """A valid sign-up POST (docs/interface.md §5); keyword arguments replace fields."""

    def make(**overrides):
        data = {
            "email": "new.shopper@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "region": "US",
        }
        data.update(overrides)
        return data

    return make


@pytest.fixture
def sign_in(client):
    """POST the sign-in form as a shopper would (allauth records how they authenticated)."""

    def post(email, password=PASSWORD, **extra):
        return client.post("/accounts/login/", {"login": email, "password": password, **extra})

    return post


@pytest.fixture
def reauthenticated_client(client, user, sign_in):
    """`user` signed in with a password and reauthenticated, as allauth.mfa's pages require."""
    sign_in(user.email)
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    return client
