"""Staff keep coin packs in the product admin (docs/points.md): a pack needs its coins, any
other kind has none, and a form that breaks the rule is answered on the page, never a 500."""

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from tests.accounts.two_factor import login_staff
from tests.checkout.factories import ProductFactory
from tests.wallet.staff import superuser

pytestmark = pytest.mark.django_db


def _post(client, product, **fields):
    data = {
        "name": product.name,
        "slug": product.slug,
        "category": product.category_id,
        "kind": product.kind,
        "description": product.description,
        "is_active": "on",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
    } | fields
    return client.post(reverse("admin:catalog_product_change", args=[product.pk]), data)


def test_a_coin_pack_needs_coins_and_other_kinds_have_none():
    product = ProductFactory(name="Desk lamp", kind="physical", prices={})
    client = login_staff(Client(), superuser())

    for fields in (
        {"kind": "coin_pack", "coins": ""},
        {"kind": "coin_pack", "coins": "0"},
        {"kind": "physical", "coins": "500"},
        {"kind": "coin_pack", "coins": "-5"},
        {"kind": "coin_pack", "coins": "99999999999"},
    ):
        refused = _post(client, product, **fields)
        assert refused.status_code == 200, fields
        assert "errornote" in refused.content.decode(), fields
    product.refresh_from_db()
    assert (product.kind, product.coins, product.bonus_coins) == ("physical", 0, 0)

    saved = _post(client, product, kind="coin_pack", coins="1000", bonus_coins="50")
    assert saved.status_code == 302
    product = Product.objects.get(pk=product.pk)
    assert (product.kind, product.pack_coins) == ("coin_pack", 1050)

    saved = _post(client, product, kind="physical", coins="", bonus_coins="")
    assert saved.status_code == 302
    assert Product.objects.get(pk=product.pk).coins == 0
