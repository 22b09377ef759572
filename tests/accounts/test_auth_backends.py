"""The signed-in user's read (accounts/auth_backends.py): one prepared statement that gives
back what `select_related("region").get()` gives, for both sign-in backends."""

import pytest
from django.contrib.auth import get_user

from accounts.auth_backends import ShopperAllauthBackend, ShopperModelBackend
from accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

BACKENDS = [ShopperModelBackend, ShopperAllauthBackend]


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_user_comes_back_whole_with_their_region_in_one_query(
    backend, django_assert_num_queries
):
    shopper = UserFactory(region_id="JP", first_name="Aiko", is_staff=True, session_epoch=3)
    expected = User.objects.select_related("region").get(pk=shopper.pk)

    with django_assert_num_queries(1):
        user = backend().get_user(shopper.pk)
        region = user.region  # cached with the user: no second query

    assert _fields(user) == _fields(expected)
    assert _fields(region) == _fields(expected.region)
    assert user._state.adding is False
    assert user._state.db == "default"
    # A user read this way saves like any other.
    user.first_name = "Aiko-san"
    user.save(update_fields=["first_name"])
    assert User.objects.get(pk=shopper.pk).first_name == "Aiko-san"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("user_id", [10**12, 2**63, 10**30, "not-a-number", "", None])
def test_no_such_user_or_no_id_at_all_is_nobody(backend, user_id):
    UserFactory()

    assert backend().get_user(user_id) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_inactive_user_is_nobody(backend):
    shopper = UserFactory(is_active=False)

    assert backend().get_user(shopper.pk) is None


def test_a_signed_in_request_gets_its_user_from_the_session(client):
    shopper = UserFactory(region_id="GB")
    client.force_login(shopper)
    request = client.get("/healthz/").wsgi_request

    user = get_user(request)

    assert user.pk == shopper.pk
    assert user.region.currency == "GBP"
