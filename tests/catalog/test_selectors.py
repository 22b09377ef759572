"""Catalog reads, priced for one region."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.test import override_settings

from catalog.selectors import (
    category_list,
    product_get,
    product_list,
    products_by_slug,
    shopper_region,
)
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_product_list_prices_in_the_region_and_marks_products_not_sold_there():
    everywhere = ProductFactory(name="Alpha")
    gb_only = ProductFactory(name="Beta", prices={"GB": 1500})

    us = {p.slug: p.price for p in product_list(region_code="US")}
    gb = {p.slug: p.price for p in product_list(region_code="GB")}
    jp = {p.slug: p.price for p in product_list(region_code="JP")}

    assert us == {everywhere.slug: 2999, gb_only.slug: None}
    assert gb == {everywhere.slug: 2399, gb_only.slug: 1500}
    assert jp == {everywhere.slug: 4500, gb_only.slug: None}


def test_product_list_hides_inactive_products_and_sorts_by_name():
    ProductFactory(name="Zebra")
    ProductFactory(name="Apple")
    ProductFactory(name="Mango", is_active=False)

    assert [p.name for p in product_list(region_code="US")] == ["Apple", "Zebra"]


def test_product_list_filters_by_category_and_searches_name_and_description():
    books = CategoryFactory(slug="books", name="Books")
    home = CategoryFactory(slug="home", name="Home")
    ledger = ProductFactory(name="The Pragmatic Ledger", category=books)
    lamp = ProductFactory(name="Desk Lamp", category=home, description="Warm light for a ledger")
    ProductFactory(name="Cast-iron Pan", category=home)

    assert list(product_list(region_code="US", category_slug="books")) == [ledger]
    assert set(product_list(region_code="US", query="LEDGER")) == {ledger, lamp}
    assert list(product_list(region_code="US", category_slug="home", query="ledger")) == [lamp]
    assert list(product_list(region_code="US", category_slug="nope")) == []


def test_product_get_answers_404_for_unknown_and_inactive_products():
    product = ProductFactory(prices={"JP": 4500})
    hidden = ProductFactory(is_active=False)

    assert product_get(slug=product.slug, region_code="JP").price == 4500
    assert product_get(slug=product.slug, region_code="US").price is None
    with pytest.raises(Http404):
        product_get(slug="no-such-thing", region_code="US")
    with pytest.raises(Http404):
        product_get(slug=hidden.slug, region_code="US")


def test_products_by_slug_is_one_query_and_skips_inactive(django_assert_num_queries):
    a = ProductFactory()
    b = ProductFactory(prices={"GB": 100})
    hidden = ProductFactory(is_active=False)

    with django_assert_num_queries(1):
        found = products_by_slug(slugs=[a.slug, b.slug, hidden.slug, "nope"], region_code="US")
        prices = {slug: p.price for slug, p in found.items()}
        names = [p.category.name for p in found.values()]

    assert prices == {a.slug: 2999, b.slug: None}
    assert len(names) == 2


def test_category_list_is_sorted_by_name():
    CategoryFactory(name="Home", slug="home")
    CategoryFactory(name="Books", slug="books")

    assert [c.slug for c in category_list()] == ["books", "home"]


def test_shopper_region_is_the_users_or_the_default_for_visitors():
    assert shopper_region(UserFactory(region_id="JP")).code == "JP"
    assert shopper_region(AnonymousUser()).code == "US"
    with override_settings(DEFAULT_REGION="GB"):
        assert shopper_region(AnonymousUser()).code == "GB"
