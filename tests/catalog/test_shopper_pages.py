"""Issue 8 on the catalog pages: product illustrations with alt text, one h1 on every list
page, the favicon link, and the navigation bar's cart count (data-testid="nav-cart")."""

import pytest
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders

from catalog.demo import PRODUCTS, catalog_seed
from catalog.images import PLACEHOLDER, product_image_path
from checkout.services.cart import cart_add
from tests.accounts.factories import UserFactory
from tests.checkout.factories import CategoryFactory, ProductFactory
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

CART_COUNT = "checkout.context_processors.cart_count"


@pytest.fixture
def with_cart_count(settings):
    """The nav cart count's context processor, whether or not config/settings.py lists it yet."""
    templates = [dict(engine) for engine in django_settings.TEMPLATES]
    processors = templates[0]["OPTIONS"]["context_processors"]
    if CART_COUNT not in processors:
        templates[0]["OPTIONS"] = {
            **templates[0]["OPTIONS"],
            "context_processors": [*processors, CART_COUNT],
        }
    settings.TEMPLATES = templates


def _h1s(response) -> list[str]:
    return [h.text for h in hooks(response, "catalog-heading")] + [
        h.text for h in hooks(response, "welcome")
    ]


def test_every_demo_product_ships_a_small_illustration():
    for slug, *_ in PRODUCTS:
        path = product_image_path(slug)
        assert path == f"img/products/{slug}.svg"
        found = finders.find(path)
        assert found, path
        with open(found, "rb") as image:
            content = image.read()
        assert content.startswith(b"<svg"), path
        assert len(content) < 6_000, (path, len(content))


def test_a_product_without_an_illustration_shows_the_placeholder():
    assert product_image_path("a-new-product") == PLACEHOLDER
    assert finders.find(PLACEHOLDER)


def test_list_and_product_page_show_the_image_with_alt_text(client):
    catalog_seed()
    response = client.get("/")
    images = hooks(response, "product-image")
    assert len(images) == 12
    assert all(img.attrs["alt"] and img.attrs["src"].endswith(".svg") for img in images)
    detail = client.get("/products/desk-lamp/")
    image = hook(detail, "product-image")
    assert image.attrs["alt"] == "Desk Lamp"
    assert image.attrs["src"].endswith("/img/products/desk-lamp.svg")


@pytest.mark.parametrize(
    ("query", "heading"),
    [
        ("?category=books", "Books"),
        ("?q=lamp", "Results for “lamp”"),
        ("?q=lamp&category=home", "Results for “lamp” in Home"),
        ("?category=nope", "All products"),
        ("?page=2", "All products · page 2"),
    ],
)
def test_every_list_page_has_one_h1(client, query, heading):
    CategoryFactory(slug="books", name="Books")
    home = CategoryFactory(slug="home", name="Home")
    for n in range(13):
        ProductFactory(name=f"Lamp {n}", category=home)
    response = client.get(f"/{query}")
    html = response.content.decode()
    assert html.count("<h1") == 1
    assert hook(response, "catalog-heading").text == heading


def test_a_search_heading_is_escaped(client):
    response = client.get("/?q=<b>x</b>")
    assert "<b>x</b>" not in response.content.decode()
    assert hook(response, "catalog-heading").text == "Results for “<b>x</b>”"


def test_the_favicon_is_linked(client):
    html = client.get("/").content.decode()
    assert 'rel="icon" href="/static/img/favicon.svg"' in html
    assert finders.find("img/favicon.svg")


# --- the nav cart count ---------------------------------------------------------------------


def test_a_visitors_count_is_the_sum_of_the_session_cart(client, with_cart_count):
    lamp = ProductFactory(slug="lamp")
    book = ProductFactory(slug="book")
    empty = hook(client.get("/"), "nav-cart")
    assert empty.attrs["data-count"] == "0"
    assert empty.text == "Cart"
    client.post("/cart/add/", {"product": lamp.slug, "quantity": 2})
    client.post("/cart/add/", {"product": book.slug, "quantity": 1})
    nav = hook(client.get("/"), "nav-cart")
    assert nav.attrs["data-count"] == "3"
    assert nav.text == "Cart (3)"


def test_a_shoppers_count_is_the_sum_of_the_saved_cart(client, with_cart_count):
    user = UserFactory()
    lamp = ProductFactory(slug="lamp")
    book = ProductFactory(slug="book")
    cart_add(user=user, session={}, slug=lamp.slug, quantity=4)
    cart_add(user=user, session={}, slug=book.slug, quantity=1)
    UserFactory()  # someone else's cart is not counted
    client.force_login(user)
    for url in ["/", f"/products/{lamp.slug}/", "/cart/", "/wallet/"]:
        nav = hook(client.get(url), "nav-cart")
        assert (nav.attrs["data-count"], nav.text) == ("5", "Cart (5)"), url


def _processors(*, cart_count: bool) -> list[dict]:
    templates = [dict(engine) for engine in django_settings.TEMPLATES]
    others = [p for p in templates[0]["OPTIONS"]["context_processors"] if p != CART_COUNT]
    templates[0]["OPTIONS"] = {
        **templates[0]["OPTIONS"],
        "context_processors": [*others, CART_COUNT] if cart_count else others,
    }
    return templates


@pytest.mark.parametrize("lines", [1, 6])
def test_the_count_costs_a_shopper_one_query_and_a_visitor_none(
    client, settings, django_assert_num_queries, lines
):
    from tests.catalog.test_views import LIST_QUERIES_SHOPPER, LIST_QUERIES_VISITOR, NAV_CART

    without = LIST_QUERIES_SHOPPER - NAV_CART
    user = UserFactory()
    for n in range(lines):
        cart_add(user=user, session={}, slug=ProductFactory(slug=f"p{n}").slug, quantity=2)
    visitor = type(client)()
    visitor.post("/cart/add/", {"product": "p0", "quantity": 3})
    client.force_login(user)

    settings.TEMPLATES = _processors(cart_count=False)
    with django_assert_num_queries(without):
        client.get("/")
    settings.TEMPLATES = _processors(cart_count=True)
    with django_assert_num_queries(without + 1):
        response = client.get("/")
    assert hook(response, "nav-cart").attrs["data-count"] == str(2 * lines)
    # A visitor's cart is in the session the page loads anyway (from its cached copy, no query):
    # just the visitor's list.
    with django_assert_num_queries(LIST_QUERIES_VISITOR):
        response = visitor.get("/")
    assert hook(response, "nav-cart").attrs["data-count"] == "3"


def test_the_wallet_page_sends_the_count_with_its_own_reads(client, with_cart_count, monkeypatch):
    # The wallet page reads its figures and activity in one round trip (config/frame_reads.py):
    # the count goes with them, and the processor's own query never runs there.
    user = UserFactory()
    cart_add(user=user, session={}, slug=ProductFactory(slug="lamp").slug, quantity=3)
    client.force_login(user)
    monkeypatch.setattr(
        "checkout.context_processors._count", lambda request: pytest.fail("a query of its own")
    )
    nav = hook(client.get("/wallet/"), "nav-cart")
    assert (nav.attrs["data-count"], nav.text) == ("3", "Cart (3)")
    monkeypatch.undo()
    assert hook(client.get("/"), "nav-cart").attrs["data-count"] == "3"  # others: the processor


def test_a_frame_read_is_sent_only_for_a_shopper(rf):
    from django.contrib.auth.models import AnonymousUser

    from config.frame_reads import frame_reads

    request = rf.get("/wallet/")
    request.user = AnonymousUser()
    assert frame_reads(request).statements == ()
    request.user = UserFactory()
    frame = frame_reads(request)
    assert [read.name for read in frame.reads] == ["nav_cart_count"]
    assert frame.context([[(7,)]]) == {"nav_cart_count": 7}
    assert frame.context([[]]) == {"nav_cart_count": 0}  # no cart yet
