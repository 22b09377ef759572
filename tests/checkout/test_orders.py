"""/orders/ and /orders/<number>/: the history and one order with its payment breakdown."""

import re

import pytest
from django.test import Client

from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, fund, order_make
from tests.wallet.pages import hook, hooks

pytestmark = pytest.mark.django_db

ORDERS = "/orders/"
PAGE_SIZE = 20

# Measured on SQLite; flat however many orders, or lines in an order.
ORDER_LIST_QUERIES = 5  # user with region, count, nav balance, nav cart count, page
ORDER_QUERIES = 7  # user with region, order, lines, refunds, promotions used, nav
# balance + cart count


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _numbers(response):
    """Order numbers of the rows, in page order (each row links to its order)."""
    rows = hooks(response, "order-row")
    numbers = re.findall(
        r'<tr data-testid="order-row"><td><a href="/orders/([^/]+)/"', response.content.decode()
    )
    assert len(numbers) == len(rows)
    return numbers


@pytest.fixture
def lamp(db):
    return ProductFactory(name="Desk Lamp", prices={"US": 2999})


def test_anonymous_visitors_are_sent_to_login(client, user, lamp):
    fund(user, 5000)
    order = order_make(user, (lamp, 1))

    for url in (ORDERS, f"/orders/{order.number}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"


def test_no_orders_yet_shows_the_empty_state(user):
    response = _client_for(user).get(ORDERS)

    assert response.status_code == 200
    assert hook(response, "orders-empty")
    assert _numbers(response) == []


def test_the_history_lists_the_shoppers_orders_newest_first(user, other_user, lamp):
    fund(user, 10_000)
    fund(other_user, 10_000)
    first = order_make(user, (lamp, 1))
    theirs = order_make(other_user, (lamp, 1))
    second = order_make(user, (lamp, 2))

    response = _client_for(user).get(ORDERS)

    assert _numbers(response) == [second.number, first.number]
    assert theirs.number not in response.content.decode()
    assert "$59.98" in hooks(response, "order-row")[0].text
    assert "Delivered" in hooks(response, "order-row")[0].text


def test_the_history_is_paginated(user, lamp):
    fund(user, 100_000)
    orders = [order_make(user, (lamp, 1)) for _ in range(PAGE_SIZE + 2)]
    client = _client_for(user)

    first = client.get(ORDERS)
    second = client.get(f"{ORDERS}?page=2")

    newest_first = [order.number for order in reversed(orders)]
    assert _numbers(first) == newest_first[:PAGE_SIZE]
    assert _numbers(second) == newest_first[PAGE_SIZE:]
    assert "Page 1 of 2" in first.content.decode()
    assert 'href="?page=2"' in first.content.decode()
    assert _numbers(client.get(f"{ORDERS}?page=99")) == _numbers(second)


def test_order_list_query_count_does_not_grow(user, lamp, django_assert_num_queries):
    fund(user, 100_000)
    client = _client_for(user)
    order_make(user, (lamp, 1))
    with django_assert_num_queries(ORDER_LIST_QUERIES):
        assert len(_numbers(client.get(ORDERS))) == 1

    for _ in range(9):
        order_make(user, (lamp, 1))
    with django_assert_num_queries(ORDER_LIST_QUERIES):
        assert len(_numbers(client.get(ORDERS))) == 10


def test_the_order_page_shows_the_payment_breakdown(user, lamp, django_capture_on_commit_callbacks):
    fund(user, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_make(user, (lamp, 2), card=APPROVED)

    response = _client_for(user).get(f"/orders/{order.number}/")

    assert response.status_code == 200
    assert hook(response, "order-number").text == order.number
    amounts = {
        name: hook(response, f"order-{name}").attrs["data-amount-minor"]
        for name in ("subtotal", "discount", "balance-applied", "amount-due")
    }
    assert amounts == {
        "subtotal": "5998",
        "discount": "0",
        "balance-applied": "1000",
        "amount-due": "4998",
    }
    assert hook(response, "order-amount-due").text == "$49.98"
    html = response.content.decode()
    assert "Charged to your card" in html
    assert "2 \u00d7 Desk Lamp" in html
    assert user.email in html
    assert not hooks(response, "order-refund")


def test_another_shoppers_order_answers_404(user, other_user, lamp):
    fund(other_user, 5000)
    theirs = order_make(other_user, (lamp, 1))

    assert _client_for(user).get(f"/orders/{theirs.number}/").status_code == 404


def test_an_unknown_order_answers_404(user):
    assert _client_for(user).get("/orders/CP-00000000/").status_code == 404


def test_order_page_query_count_does_not_grow_with_lines(user, django_assert_num_queries):
    fund(user, 1_000_000)
    client = _client_for(user)
    products = [ProductFactory() for _ in range(10)]
    one = order_make(user, (products[0], 1))
    ten = order_make(user, *((product, 2) for product in products))

    with django_assert_num_queries(ORDER_QUERIES):
        client.get(f"/orders/{one.number}/")
    with django_assert_num_queries(ORDER_QUERIES):
        response = client.get(f"/orders/{ten.number}/")
    assert response.content.decode().count(" \u00d7 ") == 10
