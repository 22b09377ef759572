"""The cart: /cart/, POST /cart/add/ and POST /cart/update/ (docs/interface.md §5), for visitors
(the
session) and shoppers (the database), and the services behind them."""

import pytest
from django.test import Client

from checkout.exceptions import InvalidQuantity, ProductUnavailable
from checkout.models import Cart, CartLine
from checkout.selectors import SESSION_CART, cart_lines_get
from checkout.services import cart_add, cart_update
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

CART = "/cart/"
ADD = "/cart/add/"
UPDATE = "/cart/update/"

# Measured on SQLite; flat however many lines the cart holds.
CART_QUERIES_VISITOR = 2  # region, products (priced by a subquery)
CART_QUERIES_SHOPPER = 5  # user (with its region), lines (priced), gift cards, nav balance,
# nav cart count


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _lines(response):
    return {
        line.attrs["data-slug"]: int(line.attrs["data-quantity"])
        for line in hooks(response, "cart-line")
    }


def _saved(user):
    return dict(CartLine.objects.filter(cart__user=user).values_list("product__slug", "quantity"))


def _refusal(response):
    """The flash message's `form-error` after following the redirect back to the cart."""
    assert response.redirect_chain[-1][0] == CART
    assert hooks(response, "message")
    return hook(response, "form-error")


# --- visitors: the session ----------------------------------------------------------------


def test_a_visitor_adds_updates_and_removes_in_the_session(client):
    lamp = ProductFactory(name="Desk Lamp", prices={"US": 4499})
    pan = ProductFactory(name="Cast-iron Pan", prices={"US": 3499})

    added = client.post(ADD, {"product": lamp.slug, "quantity": "2"}, follow=True)
    client.post(ADD, {"product": pan.slug, "quantity": "1"})
    client.post(ADD, {"product": lamp.slug, "quantity": "1"})

    assert "Added to your cart." in hook(added, "message").text
    assert client.session[SESSION_CART] == {lamp.slug: 3, pan.slug: 1}
    page = client.get(CART)
    assert _lines(page) == {lamp.slug: 3, pan.slug: 1}
    assert hook(page, "cart-subtotal").attrs["data-amount-minor"] == str(3 * 4499 + 3499)
    assert CartLine.objects.count() == 0

    updated = client.post(UPDATE, {"product": lamp.slug, "quantity": "5"}, follow=True)
    assert "Cart updated." in hook(updated, "message").text
    assert client.session[SESSION_CART] == {lamp.slug: 5, pan.slug: 1}

    removed = client.post(UPDATE, {"product": pan.slug, "quantity": "0"}, follow=True)
    assert "Removed from your cart." in hook(removed, "message").text
    assert _lines(client.get(CART)) == {lamp.slug: 5}


def test_an_empty_cart_shows_the_empty_state(client):
    response = client.get(CART)

    assert response.status_code == 200
    assert hook(response, "cart-empty")
    assert not hooks(response, "go-to-checkout")


def test_a_visitor_updating_a_product_not_in_the_cart_adds_nothing(client):
    lamp = ProductFactory()

    client.post(UPDATE, {"product": lamp.slug, "quantity": "3"})

    assert client.session.get(SESSION_CART, {}) == {}


# --- shoppers: the database -------------------------------------------------------------


def test_a_shopper_adds_updates_and_removes_in_the_database(user):
    client = _client_for(user)
    lamp = ProductFactory(prices={"US": 4499})
    pan = ProductFactory(prices={"US": 3499})

    client.post(ADD, {"product": lamp.slug, "quantity": "2"})
    client.post(ADD, {"product": pan.slug, "quantity": "4"})
    client.post(ADD, {"product": lamp.slug, "quantity": "1"})

    assert _saved(user) == {lamp.slug: 3, pan.slug: 4}
    assert SESSION_CART not in client.session
    page = client.get(CART)
    assert _lines(page) == {lamp.slug: 3, pan.slug: 4}
    assert hook(page, "cart-subtotal").attrs["data-amount-minor"] == str(3 * 4499 + 4 * 3499)

    client.post(UPDATE, {"product": lamp.slug, "quantity": "7"})
    assert _saved(user) == {lamp.slug: 7, pan.slug: 4}

    client.post(UPDATE, {"product": pan.slug, "quantity": "0"})
    assert _saved(user) == {lamp.slug: 7}
    assert Cart.objects.filter(user=user).count() == 1


def test_a_shoppers_cart_is_their_own(user, other_user):
    lamp = ProductFactory()
    cart_fill(user, (lamp, 2))

    page = _client_for(other_user).get(CART)

    assert hook(page, "cart-empty")
    _client_for(other_user).post(UPDATE, {"product": lamp.slug, "quantity": "0"})
    assert _saved(user) == {lamp.slug: 2}


def test_the_cart_is_priced_in_the_shoppers_region():
    book = ProductFactory()  # ¥4,500 in Japan
    shopper = UserFactory(region_id="JP")
    cart_fill(shopper, (book, 2))

    page = _client_for(shopper).get(CART)

    subtotal = hook(page, "cart-subtotal")
    assert subtotal.attrs["data-amount-minor"] == "9000"
    assert subtotal.text == "￥9,000"


# --- quantity bounds: a clear refusal, nothing written ---------------------------------------


@pytest.mark.parametrize("quantity", ["0", "100", "-1", "abc", "", "1.5"])
def test_add_refuses_a_quantity_outside_1_to_99_for_a_visitor(client, quantity):
    lamp = ProductFactory()

    response = client.post(ADD, {"product": lamp.slug, "quantity": quantity}, follow=True)

    error = _refusal(response)
    assert error.attrs["data-reason"] == "quantity"
    assert "Choose a quantity from 1 to 99." in error.text
    assert client.session.get(SESSION_CART, {}) == {}


@pytest.mark.parametrize("quantity", ["0", "100", "-1", "abc"])
def test_add_refuses_a_quantity_outside_1_to_99_for_a_shopper(user, quantity):
    client = _client_for(user)
    lamp = ProductFactory()
    cart_fill(user, (lamp, 2))

    response = client.post(ADD, {"product": lamp.slug, "quantity": quantity}, follow=True)

    assert _refusal(response).attrs["data-reason"] == "quantity"
    assert _saved(user) == {lamp.slug: 2}


@pytest.mark.parametrize("signed_in", [False, True])
def test_add_refuses_to_take_a_line_above_99(client, user, signed_in):
    if signed_in:
        client.force_login(user)
    lamp = ProductFactory()
    client.post(ADD, {"product": lamp.slug, "quantity": "60"})

    response = client.post(ADD, {"product": lamp.slug, "quantity": "40"}, follow=True)

    error = _refusal(response)
    assert error.attrs["data-reason"] == "quantity"
    assert "1 to 99" in error.text
    assert _lines(response) == {lamp.slug: 60}


@pytest.mark.parametrize("quantity", ["100", "-1", "abc", ""])
@pytest.mark.parametrize("signed_in", [False, True])
def test_update_refuses_a_quantity_outside_0_to_99(client, user, signed_in, quantity):
    if signed_in:
        client.force_login(user)
    lamp = ProductFactory()
    client.post(ADD, {"product": lamp.slug, "quantity": "3"})

    response = client.post(UPDATE, {"product": lamp.slug, "quantity": quantity}, follow=True)

    error = _refusal(response)
    assert error.attrs["data-reason"] == "quantity"
    assert "0 to 99" in error.text
    assert _lines(response) == {lamp.slug: 3}


def test_99_is_allowed(user):
    client = _client_for(user)
    lamp = ProductFactory()

    client.post(ADD, {"product": lamp.slug, "quantity": "99"})

    assert _saved(user) == {lamp.slug: 99}


def test_cart_services_refuse_bad_quantities_and_write_nothing(user):
    lamp = ProductFactory()

    for quantity in (0, -1, 100):
        with pytest.raises(InvalidQuantity):
            cart_add(user=user, session={}, slug=lamp.slug, quantity=quantity)
    for quantity in (-1, 100):
        with pytest.raises(InvalidQuantity):
            cart_update(user=user, session={}, slug=lamp.slug, quantity=quantity)

    assert CartLine.objects.count() == 0


# --- products that cannot be added ----------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_product_without_a_price_in_the_shoppers_region_cannot_be_added(client, user, signed_in):
    if signed_in:
        client.force_login(user)  # a US shopper; a visitor shops in DEFAULT_REGION (US)
    tea_towel = ProductFactory(name="Tea Towel", prices={"GB": 899})

    response = client.post(ADD, {"product": tea_towel.slug, "quantity": "1"}, follow=True)

    error = _refusal(response)
    assert error.attrs["data-reason"] == "product_unavailable"
    assert "Tea Towel is not sold in the United States store" in error.text
    assert hook(response, "cart-empty")
    assert CartLine.objects.count() == 0
    assert client.session.get(SESSION_CART, {}) == {}


def test_the_same_product_can_be_added_by_a_shopper_of_its_region():
    tea_towel = ProductFactory(name="Tea Towel", prices={"GB": 899})
    shopper = UserFactory(region_id="GB")

    _client_for(shopper).post(ADD, {"product": tea_towel.slug, "quantity": "1"})

    assert _saved(shopper) == {tea_towel.slug: 1}


@pytest.mark.parametrize("slug", ["no-such-thing", "hidden"])
def test_an_unknown_or_inactive_product_cannot_be_added(client, user, slug):
    ProductFactory(slug="hidden", is_active=False)
    client.force_login(user)

    response = client.post(ADD, {"product": slug, "quantity": "1"}, follow=True)

    error = _refusal(response)
    assert error.attrs["data-reason"] == "product_unavailable"
    assert "does not exist or is no longer sold" in error.text
    assert CartLine.objects.count() == 0


def test_cart_add_service_raises_product_unavailable(user):
    tea_towel = ProductFactory(prices={"GB": 899})

    with pytest.raises(ProductUnavailable) as refused:
        cart_add(user=user, session={}, slug=tea_towel.slug, quantity=1)

    assert refused.value.reason == "product_unavailable"
    assert not Cart.objects.filter(user=user).exists() or CartLine.objects.count() == 0


def test_a_product_withdrawn_after_it_was_added_cannot_be_bought(user):
    lamp = ProductFactory(name="Desk Lamp")
    cart_fill(user, (lamp, 1))
    lamp.is_active = False
    lamp.save()

    lines = cart_lines_get(user=user, session={}, region_code="US")

    assert [(line.slug, line.unit_price) for line in lines] == [(lamp.slug, None)]
    page = _client_for(user).get(CART)
    assert "Not sold in the United States store" in page.content.decode()


def test_a_refused_add_never_redirects_off_site(client):
    response = client.post(
        ADD, {"product": "x", "quantity": "abc", "next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert response["Location"] == CART


def test_a_refused_add_goes_back_to_the_product_page(client):
    lamp = ProductFactory()
    back = f"/products/{lamp.slug}/"

    response = client.post(ADD, {"product": lamp.slug, "quantity": "0", "next": back})

    assert response["Location"] == back


# --- CSRF and query counts --------------------------------------------------------------------


@pytest.mark.parametrize("url", [ADD, UPDATE])
@pytest.mark.parametrize("signed_in", [False, True])
def test_cart_posts_need_the_csrf_token(user, url, signed_in):
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(user)
    lamp = ProductFactory()

    response = client.post(url, {"product": lamp.slug, "quantity": "1"})

    assert response.status_code == 403
    assert CartLine.objects.count() == 0
    assert SESSION_CART not in client.session


def test_cart_page_query_count_does_not_grow_with_lines(user, django_assert_num_queries):
    client = _client_for(user)
    products = [ProductFactory() for _ in range(10)]
    cart_fill(user, (products[0], 1))
    with django_assert_num_queries(CART_QUERIES_SHOPPER):
        assert len(_lines(client.get(CART))) == 1

    cart_fill(user, *((product, 2) for product in products[1:]))
    with django_assert_num_queries(CART_QUERIES_SHOPPER):
        assert len(_lines(client.get(CART))) == 10


def test_visitor_cart_page_query_count_does_not_grow_with_lines(client, django_assert_num_queries):
    products = [ProductFactory() for _ in range(10)]
    client.post(ADD, {"product": products[0].slug, "quantity": "1"})
    with django_assert_num_queries(CART_QUERIES_VISITOR):
        assert len(_lines(client.get(CART))) == 1

    for product in products[1:]:
        client.post(ADD, {"product": product.slug, "quantity": "1"})
    with django_assert_num_queries(CART_QUERIES_VISITOR):
        assert len(_lines(client.get(CART))) == 10


def test_a_gift_card_product_is_bought_on_the_buy_page_not_as_a_line(shopper_client):
    from catalog.models import Product
    from checkout.models import CartLine
    from tests.checkout.factories import ProductFactory

    card = ProductFactory(kind=Product.Kind.GIFT_CARD)

    page = shopper_client.get(f"/products/{card.slug}/")
    response = shopper_client.post("/cart/add/", {"product": card.slug, "quantity": 1}, follow=True)

    assert hook(page, "giftcard-buy-link").attrs["href"] == f"/gift-cards/buy/?product={card.slug}"
    assert 'data-testid="add-to-cart"' not in page.content.decode()
    error = hook(response, "form-error")
    assert error.attrs["data-reason"] == "product_unavailable"
    assert "/gift-cards/buy/" in error.text
    assert not CartLine.objects.exists()
