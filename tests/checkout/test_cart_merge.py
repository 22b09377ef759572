"""A visitor's session cart joins the saved cart when they sign in (`cart_merge_on_login`)."""

import pytest

from checkout.models import CartLine
from checkout.selectors import SESSION_CART
from tests.accounts.factories import PASSWORD, UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import cart_fill

pytestmark = pytest.mark.django_db


def _sign_in(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return response


def _saved(user):
    return dict(CartLine.objects.filter(cart__user=user).values_list("product__slug", "quantity"))


def test_session_lines_join_the_saved_cart_at_login(client, user):
    lamp, pan, book = ProductFactory(), ProductFactory(), ProductFactory()
    cart_fill(user, (lamp, 2), (book, 1))
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "3"})
    client.post("/cart/add/", {"product": pan.slug, "quantity": "1"})

    _sign_in(client, user)

    assert _saved(user) == {lamp.slug: 5, pan.slug: 1, book.slug: 1}
    assert SESSION_CART not in client.session
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_new_shopper_gets_the_visitors_cart(client, user):
    lamp = ProductFactory()
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "4"})

    _sign_in(client, user)

    assert _saved(user) == {lamp.slug: 4}


def test_merged_quantities_are_capped_at_99(client, user):
    lamp, pan = ProductFactory(), ProductFactory()
    cart_fill(user, (lamp, 90), (pan, 99))
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "50"})
    client.post("/cart/add/", {"product": pan.slug, "quantity": "5"})

    _sign_in(client, user)

    assert _saved(user) == {lamp.slug: 99, pan.slug: 99}
    assert SESSION_CART not in client.session


def test_lines_not_sold_in_the_shoppers_region_are_left_out(client):
    shopper = UserFactory(region_id="GB")
    us_only = ProductFactory(prices={"US": 1000})
    everywhere = ProductFactory()
    client.post("/cart/add/", {"product": us_only.slug, "quantity": "1"})
    client.post("/cart/add/", {"product": everywhere.slug, "quantity": "2"})

    _sign_in(client, shopper)

    assert _saved(shopper) == {everywhere.slug: 2}


def test_lines_of_products_withdrawn_meanwhile_are_left_out(client, user):
    lamp, pan = ProductFactory(), ProductFactory()
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "1"})
    client.post("/cart/add/", {"product": pan.slug, "quantity": "1"})
    pan.is_active = False
    pan.save()

    _sign_in(client, user)

    assert _saved(user) == {lamp.slug: 1}


def test_signing_in_with_an_empty_session_cart_leaves_the_saved_cart_alone(client, user):
    lamp = ProductFactory()
    cart_fill(user, (lamp, 3))

    _sign_in(client, user)

    assert _saved(user) == {lamp.slug: 3}


def test_after_login_the_cart_page_shows_the_merged_cart(client, user):
    lamp = ProductFactory()
    cart_fill(user, (lamp, 1))
    client.post("/cart/add/", {"product": lamp.slug, "quantity": "1"})
    _sign_in(client, user)

    html = client.get("/cart/").content.decode()

    assert f'data-slug="{lamp.slug}" data-quantity="2"' in html
