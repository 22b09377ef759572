"""Shipping at checkout (docs/interface.md §10): rates per region as data, the shipping line
priced in checkout/pricing.py, the address (saved or new), address_required, the order's copy
of the address and method."""

import importlib

import pytest
from django.test import Client

from accounts.addresses import address_update
from accounts.models import Address
from catalog.models import Product
from checkout.exceptions import AddressRequired
from checkout.models import Order, ShippingRate
from checkout.pricing import PricedLine, Rate, quote_build
from checkout.selectors import SESSION_SHIPPING
from checkout.services import order_place
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import (
    ADDRESSES,
    APPROVED,
    address_give,
    balance,
    fund,
    new_key,
    shop_state,
)
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

CHECKOUT = "/checkout/"
ADDRESS = "/checkout/address/"
SHIPPING = "/checkout/shipping/"
PLACE = "/checkout/place-order/"
RATES = importlib.import_module("checkout.migrations.0003_shipping_and_progress").RATES
CURRENCY = {"US": "USD", "GB": "GBP", "FR": "EUR", "DE": "EUR", "JP": "JPY"}

# Measured on SQLite, flat however many lines and saved addresses: session, user, region,
# lines, gift cards, rates, balance, coins, addresses, nav cart count, the promotions on offer,
# earlier orders.
CHECKOUT_SHIPPING_QUERIES = 12


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lamp(db):
    return ProductFactory(
        name="Desk Lamp",
        kind=Product.Kind.PHYSICAL,
        prices={"US": 2999, "GB": 2399, "FR": 2799, "DE": 2799, "JP": 4500},
    )


@pytest.fixture
def ebook(db):
    return ProductFactory(
        name="E-book", prices={"US": 999, "GB": 899, "FR": 999, "DE": 999, "JP": 1500}
    )


def _cart(user, *lines):
    from checkout.services import cart_add

    for product, quantity in lines:
        cart_add(user=user, session={}, slug=product.slug, quantity=quantity)


def _shipping(response) -> tuple[int, str]:
    found = hook(response, "order-shipping")
    return int(found.attrs["data-amount-minor"]), found.attrs["data-method"]


# --- the rates, as data, priced in every currency -------------------------------------------


def test_every_region_has_a_standard_and_an_express_rate():
    rows = set(ShippingRate.objects.values_list("region_id", "method"))
    assert rows == {(r, m) for r in CURRENCY for m in ("standard", "express")}


@pytest.mark.parametrize(("region", "method", "amount", "free_from", "days"), RATES)
def test_a_rate_is_charged_below_its_threshold_and_free_from_it(
    region, method, amount, free_from, days
):
    rates = [Rate(method, amount, free_from, days)]
    line = PricedLine(1, "x", "X", 1, 1000)
    below = quote_build(
        currency=CURRENCY[region],
        lines=[line],
        balance=0,
        use_balance=True,
        rates=rates,
        shipping_method=method,
    )
    assert (below.shipping, below.shipping_method) == (amount, method)
    assert below.total == 1000 + amount
    if free_from is None:
        big = PricedLine(1, "x", "X", 1, 10**9)
        never = quote_build(
            currency=CURRENCY[region], lines=[big], balance=0, use_balance=True, rates=rates
        )
        assert never.shipping == amount  # express is never free
    else:
        at = PricedLine(1, "x", "X", 1, free_from)
        free = quote_build(
            currency=CURRENCY[region], lines=[at], balance=0, use_balance=True, rates=rates
        )
        assert (free.shipping, free.total, free.shipping_line.full_amount) == (
            0,
            free_from,
            amount,
        )
        just_below = PricedLine(1, "x", "X", 1, free_from - 1)
        charged = quote_build(
            currency=CURRENCY[region],
            lines=[just_below],
            balance=0,
            use_balance=True,
            rates=rates,
        )
        assert charged.shipping == amount


def test_jpy_shipping_is_whole_yen_on_the_page(lamp):
    user = UserFactory(region_id="JP")
    address_give(user)
    _cart(user, (lamp, 1))
    page = _client_for(user).get(CHECKOUT)
    assert _shipping(page) == (600, "standard")  # the yen has no minor unit: 600 is ¥600
    text = hook(page, "order-shipping").text
    assert "600" in text
    assert "6.00" not in text


def test_a_digital_only_cart_ships_nothing():
    rates = [Rate("standard", 599, 5000), Rate("express", 1499)]
    quote = quote_build(
        currency="USD",
        lines=[PricedLine(1, "e", "E", 1, 999, digital=True)],
        balance=0,
        use_balance=True,
        rates=rates,
    )
    assert (quote.needs_shipping, quote.shipping, quote.shipping_method) == (False, 0, "")
    assert quote.shipping_options == []


def test_the_balance_pays_the_shipping_too():
    rates = [Rate("express", 1499)]
    quote = quote_build(
        currency="USD",
        lines=[PricedLine(1, "l", "L", 1, 2999)],
        balance=10_000,
        use_balance=True,
        rates=rates,
        shipping_method="express",
    )
    assert (quote.total, quote.balance_applied, quote.amount_due) == (4498, 4498, 0)


# --- the checkout page --------------------------------------------------------------------


@pytest.mark.parametrize("region", list(CURRENCY))
def test_the_checkout_page_shows_the_shipping_line_in_every_region(region, lamp):
    user = UserFactory(region_id=region)
    address_give(user)
    _cart(user, (lamp, 1))
    client = _client_for(user)
    standard = ShippingRate.objects.get(region_id=region, method="standard")
    express = ShippingRate.objects.get(region_id=region, method="express")

    assert _shipping(client.get(CHECKOUT)) == (standard.amount, "standard")
    assert client.post(SHIPPING, {"method": "express"}).status_code == 302
    page = client.get(CHECKOUT)
    assert _shipping(page) == (express.amount, "express")
    total = int(hook(page, "order-amount-due").attrs["data-amount-minor"])
    assert total == lamp_price(lamp, region) + express.amount


def lamp_price(product, region):
    return product.prices.get(region_id=region).amount


def test_over_the_threshold_standard_is_free(lamp):
    user = UserFactory()
    address_give(user)
    _cart(user, (lamp, 2))  # 59.98 >= 50.00
    page = _client_for(user).get(CHECKOUT)
    assert _shipping(page) == (0, "standard")
    assert "Free" in hook(page, "order-shipping").text


def test_a_digital_only_checkout_shows_nothing_to_ship(ebook):
    user = UserFactory()
    _cart(user, (ebook, 1))
    page = _client_for(user).get(CHECKOUT)
    assert _shipping(page) == (0, "")
    assert "Nothing to ship" in hook(page, "order-shipping").text
    assert hooks(page, "checkout-address") == []


def test_the_default_address_is_preselected(lamp):
    user = UserFactory()
    address = address_give(user)
    _cart(user, (lamp, 1))
    page = _client_for(user).get(CHECKOUT)
    assert hook(page, "checkout-address-selected").attrs["data-address-id"] == str(address.pk)


def test_without_an_address_the_page_asks_for_one(lamp):
    user = UserFactory()
    _cart(user, (lamp, 1))
    page = _client_for(user).get(CHECKOUT)
    assert hook(page, "checkout-address-missing")
    assert hook(page, "checkout-address-form")


def test_a_new_address_from_checkout_is_saved_and_chosen(lamp):
    user = UserFactory()
    _cart(user, (lamp, 1))
    client = _client_for(user)
    data = {
        "full_name": "Ada Lovelace",
        "line1": "12 Analytical Row",
        "city": "New York",
        "postal_code": "10001",
    }
    response = client.post(ADDRESS, data)
    assert (response.status_code, response["Location"]) == (302, "/checkout/")
    address = Address.objects.get(user=user)
    assert (address.region_id, address.is_default) == ("US", True)
    page = client.get(CHECKOUT)
    assert hook(page, "checkout-address-selected").attrs["data-address-id"] == str(address.pk)


def test_a_bad_address_at_checkout_is_refused_with_its_errors(lamp):
    user = UserFactory()
    _cart(user, (lamp, 1))
    response = _client_for(user).post(
        ADDRESS, {"full_name": "A", "line1": "1 St", "city": "X", "postal_code": "ABC"}
    )
    assert response.status_code == 400
    assert hook(response, "form-error").attrs["data-reason"] == "address_invalid"
    (error,) = hooks(response, "field-error")
    assert error.attrs["data-field"] == "postal_code"
    assert 'aria-describedby="id_address_postal_code_error"' in response.content.decode()
    assert not Address.objects.exists()


def test_a_saved_address_is_chosen_by_its_id(lamp):
    user = UserFactory()
    first = address_give(user)
    from accounts.addresses import address_create

    second = address_create(
        user=user,
        data={
            **{f: getattr(first, f) for f in ("full_name", "line2", "city", "phone")},
            "line1": "2 Other St",
            "postal_code": "10002",
        },
    )
    _cart(user, (lamp, 1))
    client = _client_for(user)
    assert client.post(ADDRESS, {"address": second.pk}).status_code == 302
    page = client.get(CHECKOUT)
    assert hook(page, "checkout-address-selected").attrs["data-address-id"] == str(second.pk)


def test_another_shoppers_address_cannot_be_chosen(lamp):
    stranger = UserFactory()
    theirs = address_give(stranger)
    user = UserFactory()
    _cart(user, (lamp, 1))
    client = _client_for(user)
    assert client.post(ADDRESS, {"address": theirs.pk}).status_code == 404
    assert client.post(ADDRESS, {"address": "abc"}).status_code == 302  # a message, not a 500
    assert "checkout_address" not in client.session


def test_an_unknown_shipping_method_is_refused(lamp):
    user = UserFactory()
    client = _client_for(user)
    response = client.post(SHIPPING, {"method": "teleport"}, follow=True)
    assert hook(response, "form-error").attrs["data-reason"] == "invalid"
    assert SESSION_SHIPPING not in client.session


@pytest.mark.parametrize("url", [ADDRESS, SHIPPING])
def test_anonymous_posts_go_to_sign_in(client, url):
    response = client.post(url, {"method": "express"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", [ADDRESS, SHIPPING])
def test_posts_without_the_csrf_token_are_refused(url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    assert client.post(url, {"method": "express"}).status_code == 403
    assert not Address.objects.exists()


def test_the_checkout_query_count_does_not_grow(lamp, django_assert_max_num_queries):
    user = UserFactory()
    address_give(user)
    _cart(user, (lamp, 1))
    client = _client_for(user)
    client.get(CHECKOUT)
    with django_assert_max_num_queries(CHECKOUT_SHIPPING_QUERIES) as few:
        client.get(CHECKOUT)
    from accounts.addresses import address_create

    for n in range(4):
        address_create(
            user=user,
            data={
                "full_name": "B",
                "line1": f"{n} St",
                "line2": "",
                "city": "C",
                "postal_code": "10001",
                "phone": "",
            },
        )
    _cart(user, *((ProductFactory(kind=Product.Kind.PHYSICAL), 1) for _ in range(5)))
    with django_assert_max_num_queries(CHECKOUT_SHIPPING_QUERIES) as many:
        assert len(hooks(client.get(CHECKOUT), "checkout-line")) == 6
    assert len(few.captured_queries) == len(many.captured_queries)


# --- placing the order --------------------------------------------------------------------


def test_a_physical_item_without_an_address_is_refused_and_nothing_is_written(lamp):
    user = UserFactory()
    fund(user, 10_000)
    _cart(user, (lamp, 1))
    before = shop_state()
    with pytest.raises(AddressRequired):
        order_place(user=user, session={}, idempotency_key=new_key())
    response = _client_for(user).post(PLACE, {"idempotency_key": new_key()})
    assert hook(response, "form-error").attrs["data-reason"] == "address_required"
    assert shop_state() == before


def test_the_order_records_the_address_and_method_as_they_were(lamp):
    user = UserFactory()
    address = address_give(user)
    fund(user, 1000)
    _cart(user, (lamp, 1))
    order = order_place(
        user=user,
        session={SESSION_SHIPPING: "express"},
        idempotency_key=new_key(),
        card_number=APPROVED,
    )
    assert (order.status, order.shipping_method, order.shipping) == ("placed", "express", 1499)
    assert (order.subtotal, order.total) == (2999, 4498)
    assert (order.balance_applied, order.card_charged) == (1000, 3498)
    assert (order.ship_name, order.ship_line1, order.ship_postal_code, order.ship_country) == (
        "Sam Shopper",
        "1 Test Street",
        ADDRESSES["US"],
        "US",
    )
    address_update(user=user, address_id=address.pk, data={"line1": "9 Moved Ave"})
    order.refresh_from_db()
    assert order.ship_line1 == "1 Test Street"
    page = _client_for(user).get(f"/orders/{order.number}/")
    assert _shipping(page) == (1499, "express")
    assert "1 Test Street" in hook(page, "order-address").text


def test_the_balance_pays_shipping_and_the_order_is_paid_in_full(lamp):
    user = UserFactory(region_id="JP")
    address_give(user)
    fund(user, 10_000)
    _cart(user, (lamp, 1))
    order = order_place(user=user, session={SESSION_SHIPPING: "express"}, idempotency_key=new_key())
    assert (order.subtotal, order.shipping, order.balance_applied, order.card_charged) == (
        4500,
        1500,
        6000,
        0,
    )
    assert balance(user) == 4000


def test_a_digital_only_order_is_delivered_at_once_and_ships_nothing(ebook):
    user = UserFactory()
    fund(user, 5000)
    _cart(user, (ebook, 1))
    order = order_place(user=user, session={}, idempotency_key=new_key())
    assert (order.status, order.shipping, order.shipping_method) == ("delivered", 0, "")
    assert order.delivered_at is not None
    assert order.lines.get().is_digital


def test_the_paid_in_full_constraint_counts_shipping(lamp):
    from django.db import IntegrityError, transaction

    user = UserFactory()
    address_give(user)
    fund(user, 10_000)
    _cart(user, (lamp, 1))
    order = order_place(user=user, session={SESSION_SHIPPING: "express"}, idempotency_key=new_key())
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(shipping=order.shipping + 1)
