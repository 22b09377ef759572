"""The demo catalog (docs/interface.md §4): categories and products priced in every region."""

import pytest

from catalog.demo import CATEGORIES, PRODUCTS, catalog_seed
from catalog.models import Category, Price, Product, Region

pytestmark = pytest.mark.django_db


def test_the_demo_catalog_prices_every_product_in_every_region():
    created = catalog_seed()

    regions = set(Region.objects.values_list("code", flat=True))
    assert regions == {"US", "GB", "FR", "DE", "JP"}
    assert created == len(PRODUCTS) == Product.objects.count()
    assert set(Category.objects.values_list("slug", flat=True)) == set(CATEGORIES)
    for product in Product.objects.all():
        assert set(product.prices.values_list("region", flat=True)) == regions, product
    kinds = set(Product.objects.values_list("kind", flat=True))
    assert kinds == {"physical", "digital", "gift_card", "coin_pack"}


def test_demo_prices_follow_each_currency():
    catalog_seed()

    prices = dict(
        Price.objects.filter(product__slug="the-pragmatic-ledger").values_list("region", "amount")
    )
    # $29.99, £23.99, 27,99 €, 27,99 € and ¥4,500 (whole yen: JPY has no minor unit).
    assert prices == {"US": 2999, "GB": 2399, "FR": 2799, "DE": 2799, "JP": 4500}
    assert all(
        amount % 10 == 0
        for amount in Price.objects.filter(region="JP")
        .exclude(product__kind="coin_pack")  # ¥475, ¥2,125: same digits everywhere
        .values_list("amount", flat=True)
    )


def test_seeding_twice_changes_nothing():
    catalog_seed()
    before = list(Price.objects.order_by("pk").values_list("pk", "product", "region", "amount"))

    assert catalog_seed() == 0

    after = list(Price.objects.order_by("pk").values_list("pk", "product", "region", "amount"))
    assert after == before
    assert Product.objects.count() == len(PRODUCTS)


def test_seeding_keeps_prices_staff_changed():
    catalog_seed()
    Price.objects.filter(product__slug="desk-lamp", region="US").update(amount=3999)

    catalog_seed()

    assert Price.objects.get(product__slug="desk-lamp", region="US").amount == 3999
