"""The shopper's coins page, /wallet/coins/ (docs/interface.md §13)."""

import pytest
from django.test import Client

from tests.accounts.factories import UserFactory
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries
from tests.wallet.units_given import coins_give, coins_key, order_reference
from wallet.models import Posting
from wallet.services import (
    activity_report_create,
    coins_credit,
    coins_return,
    coins_spend,
    coins_take_back,
)

pytestmark = pytest.mark.django_db

COINS = "/wallet/coins/"
# user with region, the nav's balance, the coins balance, the activity's count and its
# page of rows.
COINS_QUERIES = 5


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_coins_page_shows_the_balance_and_links_to_the_coin_shop(user):
    coins_give(user, 1_500)
    response = _client_for(user).get(COINS)
    assert response.status_code == 200
    balance = hook(response, "coins-balance")
    assert balance.attrs["data-coins"] == "1500"
    assert balance.text == "1,500 coins"
    assert hook(response, "coins-shop-link").attrs["href"] == "/coins/"
    assert "100 coins pay $1.00" in response.content.decode()


def test_the_coins_page_for_a_shopper_with_none_says_how_to_get_some(shopper_client):
    response = shopper_client.get(COINS)
    assert response.status_code == 200
    assert hook(response, "coins-balance").attrs["data-coins"] == "0"
    empty = hook(response, "coins-activity-empty")
    assert "No coins yet" in empty.text
    assert 'href="/coins/"' in response.content.decode()
    assert hooks(response, "coins-activity-row") == []


def test_coins_rows_say_what_moved_with_the_order_link(user):
    pack, app, other = (order_reference() for _ in range(3))
    coins_credit(
        user=user, coins=1_000, idempotency_key=coins_key(), description="x", reference=pack
    )
    coins_spend(user=user, coins=300, idempotency_key=coins_key(), description="x", reference=app)
    coins_return(user=user, coins=100, idempotency_key=coins_key(), description="x", reference=app)
    coins_credit(
        user=user, coins=500, idempotency_key=coins_key(), description="x", reference=other
    )
    coins_take_back(
        user=user, coins=500, idempotency_key=coins_key(), description="x", reference=other
    )

    rows = hooks(_client_for(user).get(COINS), "coins-activity-row")

    assert [(r.attrs["data-kind"], r.attrs["data-coins"]) for r in rows] == [
        ("coins_reversal", "-500"),
        ("coins_purchase", "500"),
        ("coins_return", "100"),
        ("coins_spend", "-300"),
        ("coins_purchase", "1000"),
    ]
    number = app.removeprefix("order:")
    assert f"Spent on order {number}" in rows[3].text
    assert f"View order {number}" in rows[3].text
    assert f"Returned from order {number}" in rows[2].text
    assert "Coins bought" in rows[4].text
    assert f"View order {pack.removeprefix('order:')}" in rows[4].text
    assert "Taken back: coin pack refunded" in rows[0].text
    assert "\u2212300 coins" in rows[3].text
    assert "+1,000 coins" in rows[4].text
    assert "\u2212300 coins 700 coins" in rows[3].text  # the amount, the balance after it
    assert hook(_client_for(user).get(COINS), "coins-balance").attrs["data-coins"] == "800"


def test_a_row_without_an_order_reads_its_description(user):
    coins_credit(user=user, coins=50, idempotency_key=coins_key(), description="Welcome coins")
    row = hook(_client_for(user).get(COINS), "coins-activity-row")
    assert "Coins bought" in row.text
    assert "View order" not in row.text


def test_a_coins_row_links_to_report_a_problem(user):
    coins_give(user, 40)
    posting = Posting.objects.get(account__user=user)
    response = _client_for(user).get(COINS)
    assert hook(response, "activity-report").attrs["href"] == (
        f"/wallet/activity/{posting.pk}/report/"
    )
    form = _client_for(user).get(f"/wallet/activity/{posting.pk}/report/")
    assert "+40 coins" in form.content.decode()


def test_the_coins_page_never_shows_another_shoppers_rows(user, other_user):
    coins_give(other_user, 900)
    coins_give(user, 10)
    response = _client_for(user).get(COINS)
    assert [r.attrs["data-coins"] for r in hooks(response, "coins-activity-row")] == ["10"]
    assert hook(response, "coins-balance").attrs["data-coins"] == "10"


def test_the_coins_activity_is_paginated_newest_first(user, settings):
    settings.WALLET_ACTIVITY_PAGE_SIZE = 4
    for coins in range(1, 10):
        coins_give(user, coins)
    client = _client_for(user)

    pages = [hooks(client.get(COINS, {"page": n}), "coins-activity-row") for n in (1, 2, 3, 9)]

    figures = [[r.attrs["data-coins"] for r in page] for page in pages]
    assert figures == [["9", "8", "7", "6"], ["5", "4", "3", "2"], ["1"], ["1"]]
    second = client.get(COINS, {"page": 2}).content.decode()
    assert "Page 2 of 3" in second
    assert "?page=1" in second
    assert "?page=3" in second


@pytest.mark.parametrize("movements", [1, 25])
def test_the_coins_page_query_count_stays_flat_with_history(movements):
    shopper = UserFactory()
    for _ in range(movements):
        coins_give(shopper, 5)
    for posting in Posting.objects.filter(account__user=shopper)[:movements]:
        activity_report_create(user=shopper, posting=posting, message="Looks wrong")
    client = _client_for(shopper)
    with assert_num_queries(COINS_QUERIES):
        client.get(COINS)
    with assert_num_queries(COINS_QUERIES):
        client.get(COINS, {"page": 2})


def test_a_yen_shopper_reads_the_rate_in_yen():
    shopper = UserFactory(region_id="JP")
    coins_give(shopper, 2_000)
    response = _client_for(shopper).get(COINS)
    assert hook(response, "coins-balance").text == "2,000 coins"
    assert "100 coins pay" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(COINS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
