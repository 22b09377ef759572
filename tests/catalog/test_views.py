"""The storefront pages: / (list, ?category=, ?q=, ?page=) and /products/<slug>/ (docs/interface.md
§5)."""

import pytest
from django.conf import settings
from django.test import Client

from catalog.views import PRODUCTS_PER_PAGE
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

# Measured on SQLite; each stays flat however many products the shop sells.
LIST_QUERIES_VISITOR = 4  # region, count, categories, page of products (priced by a subquery)
# The nav's cart count: one query for a shopper (checkout/context_processors.py), none for a
# visitor, whose cart is in the session the page loads anyway.
NAV_CART = int(
    "checkout.context_processors.cart_count"
    in settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
)
# A shopper's region is read with the user (accounts/auth_backends.py): the visitor's region
# query becomes the user's.
LIST_QUERIES_SHOPPER = 5 + NAV_CART  # + nav balance (, nav cart count)
DETAIL_QUERIES_SHOPPER = 3 + NAV_CART  # user with region, product (priced), nav balance


def _slugs(response):
    return [card.attrs["data-slug"] for card in hooks(response, "product-card")]


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- / -----------------------------------------------------------------------------------------


def test_the_list_shows_active_products_priced_in_the_visitors_region(client):
    lamp = ProductFactory(name="Desk Lamp", prices={"US": 4499, "GB": 3599})
    ProductFactory(name="Hidden", is_active=False)

    response = client.get("/")

    assert response.status_code == 200
    assert _slugs(response) == [lamp.slug]
    html = response.content.decode()
    assert "$44.99" in html
    assert "£35.99" not in html
    assert "Prices in the United States store (USD)" in html


@pytest.mark.parametrize(
    ("region", "shown"),
    [
        ("US", "$29.99"),
        ("GB", "£23.99"),
        ("FR", "27,99\xa0€"),
        ("DE", "27,99\xa0€"),
        ("JP", "￥4,500"),
    ],
)
def test_the_list_and_product_page_price_in_the_shoppers_region(region, shown):
    product = ProductFactory()  # priced everywhere: $29.99, £23.99, 27,99 €, ¥4,500
    client = _client_for(UserFactory(region_id=region))

    listing = client.get("/")
    page = client.get(f"/products/{product.slug}/")

    assert shown in listing.content.decode()
    price = hook(page, "product-price")
    assert price.text == shown.replace("\xa0", " ")
    amounts = {"US": "2999", "GB": "2399", "FR": "2799", "DE": "2799", "JP": "4500"}
    assert price.attrs["data-amount-minor"] == amounts[region]


def test_a_yen_price_has_no_minor_unit():
    product = ProductFactory(prices={"JP": 4500})
    page = _client_for(UserFactory(region_id="JP")).get(f"/products/{product.slug}/")

    price = hook(page, "product-price")
    assert price.text == "￥4,500"
    assert price.attrs["data-amount-minor"] == "4500"


def test_a_product_not_sold_in_the_region_says_so_and_offers_no_cart_button(client):
    product = ProductFactory(name="Tea Towel", prices={"GB": 899})

    listing = client.get("/")
    page = client.get(f"/products/{product.slug}/")

    assert "Not sold in this region" in listing.content.decode()
    assert page.status_code == 200
    assert "not sold in the United States store" in hook(page, "not-sold").text
    assert not hooks(page, "add-to-cart")
    assert not hooks(page, "product-price")


def test_the_category_filter(client):
    books = CategoryFactory(slug="books", name="Books")
    home = CategoryFactory(slug="home", name="Home")
    book = ProductFactory(name="A Book", category=books)
    ProductFactory(name="A Lamp", category=home)

    response = client.get("/?category=books")

    assert _slugs(response) == [book.slug]
    html = response.content.decode()
    assert 'class="list-group-item list-group-item-action active" href="?category=books"' in html


def test_search_looks_in_names_and_descriptions_case_insensitively(client):
    ledger = ProductFactory(name="The Pragmatic Ledger")
    pan = ProductFactory(name="Cast-iron Pan", description="Pre-seasoned, for a LEDGER of pancakes")
    ProductFactory(name="Desk Lamp")

    response = client.get("/?q=ledger")

    assert sorted(_slugs(response)) == sorted([ledger.slug, pan.slug])
    assert 'value="ledger"' in response.content.decode()


def test_search_within_a_category(client):
    books = CategoryFactory(slug="books")
    ledger = ProductFactory(name="Ledger book", category=books)
    ProductFactory(name="Ledger lamp")

    response = client.get("/?category=books&q=ledger")

    assert _slugs(response) == [ledger.slug]


def test_no_match_shows_the_empty_state(client):
    ProductFactory(name="Desk Lamp")

    response = client.get("/?q=unicorn")

    assert response.status_code == 200
    assert _slugs(response) == []
    assert "No products match “unicorn”" in hook(response, "products-empty").text


def test_an_empty_shop_shows_the_empty_state(client):
    response = client.get("/")

    assert hook(response, "products-empty")


def test_an_unknown_category_shows_the_empty_state(client):
    ProductFactory()

    assert hook(client.get("/?category=no-such-category"), "products-empty")


def test_the_search_text_is_escaped(client):
    response = client.get("/?q=<script>x</script>")

    assert b"<script>x</script>" not in response.content
    assert b"&lt;script&gt;" in response.content


def test_pagination(client):
    total = PRODUCTS_PER_PAGE * 2 + 3
    products = [ProductFactory(name=f"Item {n:02d}") for n in range(total)]

    first = client.get("/")
    third = client.get("/?page=3")
    beyond = client.get("/?page=99")
    garbage = client.get("/?page=abc")

    assert _slugs(first) == [p.slug for p in products[:PRODUCTS_PER_PAGE]]
    assert "Page 1 of 3" in first.content.decode()
    assert 'href="?page=2"' in first.content.decode()
    assert _slugs(third) == [p.slug for p in products[PRODUCTS_PER_PAGE * 2 :]]
    assert _slugs(beyond) == _slugs(third)  # past the end: the last page
    assert _slugs(garbage) == _slugs(first)


def test_pagination_keeps_the_category_and_search(client):
    books = CategoryFactory(slug="books")
    for n in range(PRODUCTS_PER_PAGE + 1):
        ProductFactory(name=f"Ledger {n:02d}", category=books)

    response = client.get("/?category=books&q=ledger")

    assert 'href="?page=2&amp;category=books&amp;q=ledger"' in response.content.decode()
    assert len(_slugs(client.get("/?page=2&category=books&q=ledger"))) == 1


def test_list_query_count_does_not_grow_with_products(client, django_assert_num_queries):
    for _ in range(5):
        ProductFactory()
    with django_assert_num_queries(LIST_QUERIES_VISITOR):
        assert len(_slugs(client.get("/"))) == 5

    for _ in range(35):
        ProductFactory()
    with django_assert_num_queries(LIST_QUERIES_VISITOR):
        assert len(_slugs(client.get("/"))) == PRODUCTS_PER_PAGE


def test_list_query_count_for_a_shopper_does_not_grow(django_assert_num_queries):
    client = _client_for(UserFactory())
    for _ in range(5):
        ProductFactory()
    with django_assert_num_queries(LIST_QUERIES_SHOPPER):
        client.get("/?q=product")

    for _ in range(35):
        ProductFactory()
    with django_assert_num_queries(LIST_QUERIES_SHOPPER):
        client.get("/?q=product")


# --- /products/<slug>/ -------------------------------------------------------------------------


def test_the_product_page(client):
    product = ProductFactory(
        name="Puzzle Quest (game)", kind="digital", description="Two hundred puzzles."
    )

    response = client.get(f"/products/{product.slug}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Puzzle Quest (game)" in html
    assert "Two hundred puzzles." in html
    assert "Digital (delivered at once)" in html
    assert hook(response, "product-price").attrs["data-amount-minor"] == "2999"
    assert hook(response, "add-to-cart")
    assert 'action="/cart/add/"' in html
    assert f'name="product" value="{product.slug}"' in html


def test_an_unknown_product_answers_404(client):
    assert client.get("/products/no-such-thing/").status_code == 404


def test_an_inactive_product_answers_404(client):
    product = ProductFactory(is_active=False)

    assert client.get(f"/products/{product.slug}/").status_code == 404


def test_product_page_query_count(django_assert_num_queries):
    client = _client_for(UserFactory())
    product = ProductFactory()

    with django_assert_num_queries(DETAIL_QUERIES_SHOPPER):
        assert client.get(f"/products/{product.slug}/").status_code == 200
