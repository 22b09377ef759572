"""Sessions live in the database and are read from a copy in the shared cache
(config/sessions.py): no query per page for the session, and nothing breaks while the cache is
unreachable (docs/interface.md §9) — except signing out, which fails closed."""

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"


def _signed_in() -> Client:
    client = Client()
    client.force_login(UserFactory())
    return client


def _cache_breaks(monkeypatch, *methods):
    def broken(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for method in methods:
        monkeypatch.setattr(caches["default"], method, broken)


def test_a_page_reads_the_session_from_the_cache_not_the_database(django_assert_num_queries):
    client = _signed_in()
    with django_assert_num_queries(0):
        assert client.session.load()["_auth_user_id"]
    caches["default"].clear()
    # The copy lost (a cache restart): read from the database once, and copied again.
    with django_assert_num_queries(1):
        client.session.load()
    with django_assert_num_queries(0):
        client.session.load()


def test_pages_keep_working_from_the_database_while_the_cache_is_unreachable(monkeypatch):
    client = _signed_in()
    _cache_breaks(monkeypatch, "get", "set", "add", "get_many", "has_key")
    response = client.get(WALLET)
    assert response.status_code == 200
    assert response.context["user"].is_authenticated


def test_signing_out_while_the_cache_is_unreachable_ends_nothing_and_says_so(monkeypatch):
    client = _signed_in()
    key = client.session.session_key
    _cache_breaks(monkeypatch, "delete")
    response = client.post("/accounts/logout/")
    assert response.status_code == 503
    # The session stands whole, in the database and the cache alike: signing out again works.
    assert Session.objects.filter(session_key=key).exists()
    monkeypatch.undo()
    assert client.get(WALLET).status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(WALLET).status_code == 302  # to the sign-in page


def test_a_session_ended_by_a_password_change_elsewhere_is_a_visitor_while_the_cache_is_down(
    monkeypatch,
):
    """Django ends it (its password hash no longer matches) with a flush that, unlike a sign-out,
    carries on without the cache: the copy left behind fails the same check every time."""
    user = UserFactory()
    client = Client()
    client.force_login(user)
    user.set_password("another-password-2027")
    user.save()
    _cache_breaks(monkeypatch, "get", "set", "add", "get_many", "has_key", "delete")
    for path in ("/", WALLET, "/accounts/login/"):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        assert not response.wsgi_request.user.is_authenticated


@pytest.mark.parametrize(
    "old_path",
    [
        "django.contrib.auth.backends.ModelBackend",
        "allauth.account.auth_backends.AuthenticationBackend",
    ],
)
def test_a_session_signed_in_under_a_renamed_backend_stays_signed_in(old_path):
    # Signed in before the backends were renamed (accounts/auth_backends.py): still signed in,
    # from the cache's copy and from the database's alike.
    client = _signed_in()
    session = client.session
    session["_auth_user_backend"] = old_path
    session.save()
    assert client.get(WALLET).status_code == 200
    caches["default"].clear()
    response = client.get(WALLET)
    assert response.status_code == 200
    assert response.context["user"].is_authenticated


def test_a_session_naming_an_unknown_backend_is_still_signed_out():
    client = _signed_in()
    session = client.session
    session["_auth_user_backend"] = "somewhere.else.Backend"
    session.save()
    response = client.get(WALLET)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
