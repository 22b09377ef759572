"""A signed-in person's pages are never cached (the navigation shows their balance)."""

import pytest
from django.test import Client

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/", "/cart/", "/wallet/", "/gift-cards/redeem/", "/orders/", "/subscriptions/"]
)
def test_every_page_of_a_signed_in_shopper_is_private_and_not_stored(url):
    client = Client()
    client.force_login(UserFactory())

    cache_control = client.get(url)["Cache-Control"]

    assert "private" in cache_control
    assert "no-store" in cache_control


def test_a_visitors_catalog_page_may_be_cached():
    response = Client().get("/")

    assert "no-store" not in response.get("Cache-Control", "")
