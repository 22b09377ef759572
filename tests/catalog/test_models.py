"""Catalog constraints: one positive price per product and region."""

import pytest
from django.db import IntegrityError, transaction

from catalog.models import Price
from tests.checkout.factories import CategoryFactory, PriceFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_str_of_catalog_rows():
    product = ProductFactory(name="Desk Lamp", prices={"JP": 6750})

    assert str(product) == "Desk Lamp"
    assert str(product.category) == product.category.name
    assert str(product.prices.get()) == "Desk Lamp in JP: 6750"


def test_a_product_has_one_price_per_region():
    product = ProductFactory(prices={"US": 100})

    with pytest.raises(IntegrityError), transaction.atomic():
        PriceFactory(product=product, region_id="US", amount=200)

    assert list(product.prices.values_list("region", "amount")) == [("US", 100)]


@pytest.mark.parametrize("amount", [0, -1])
def test_a_price_is_positive(amount):
    product = ProductFactory(prices={})

    with pytest.raises(IntegrityError), transaction.atomic():
        PriceFactory(product=product, region_id="GB", amount=amount)

    assert not Price.objects.filter(product=product).exists()


def test_a_category_with_products_cannot_be_deleted():
    category = CategoryFactory()
    ProductFactory(category=category)

    with pytest.raises(Exception, match="protected"), transaction.atomic():
        category.delete()
