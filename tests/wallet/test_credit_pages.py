"""Promotional credit on /wallet/ and in the navigation (docs/interface.md §11)."""

import datetime

import pytest
from django.test import Client

from catalog.models import Category
from catalog.regions import region_day_end
from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import days_from_today, fund, grant
from tests.wallet.pages import hook, hooks
from tests.wallet.queries import assert_num_queries
from wallet.models import CreditLot
from wallet.selectors import wallet_balance_get
from wallet.services import wallet_expire_credit, wallet_spend, wallet_spend_return

pytestmark = pytest.mark.django_db

WALLET = "/wallet/"
REDEEM = "/gift-cards/redeem/"
# As tests/wallet/test_views.py WALLET_QUERIES: user with region, the figures (money, every
# lot, points and coins in one query, shared with the nav), the page with its count.
WALLET_QUERIES = 3


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _pay(user, amount, key):
    return wallet_spend(
        user=user,
        amount=amount,
        payable_by_category={None: amount},
        idempotency_key=key,
        description="Order CP-TEST0001",
        reference="order:CP-TEST0001",
    )


def test_the_wallet_lists_each_lot_soonest_first_and_the_total_spendable(user):
    fund(user, 1000)
    late = grant(user, 700, days=40)
    soon = grant(user, 300, days=3)

    response = _client_for(user).get(WALLET)

    assert response.status_code == 200
    rows = hooks(response, "promo-credit")
    assert [(r.attrs["data-amount-minor"], r.attrs["data-expires"]) for r in rows] == [
        ("300", soon.expires_on.isoformat()),
        ("700", late.expires_on.isoformat()),
    ]
    assert "$3.00" in rows[0].text
    assert f"{soon.expires_on:%B}" in rows[0].text
    assert "Spent before your gift card money, soonest-expiring first" in response.text
    balance = hook(response, "wallet-balance")
    assert balance.attrs["data-amount-minor"] == "2000"
    assert balance.text == "$20.00"
    assert hook(response, "nav-balance").text == "Balance: $20.00"


def test_the_nav_shows_the_total_spendable_on_other_pages(user):
    fund(user, 150)
    grant(user, 1000)
    assert hook(_client_for(user).get(REDEEM), "nav-balance").text == "Balance: $11.50"


def test_no_credit_section_without_lots(shopper_client, user):
    fund(user, 100)
    response = shopper_client.get(WALLET)
    assert hooks(response, "promo-credit") == []
    assert "Promotional credit" not in response.text


def test_a_restricted_lot_names_its_categories(user):
    books = Category.objects.create(name="Books", slug="books-credit-test")
    grant(user, 500, categories=[books.pk])
    row = hook(_client_for(user).get(WALLET), "promo-credit")
    assert "only for Books" in row.text


def test_an_expired_lot_is_not_listed_nor_counted(user):
    lot = grant(user, 500)
    grant(user, 200)
    CreditLot.objects.filter(pk=lot.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    response = _client_for(user).get(WALLET)
    assert [r.attrs["data-amount-minor"] for r in hooks(response, "promo-credit")] == ["200"]
    assert hook(response, "wallet-balance").attrs["data-amount-minor"] == "200"


def test_activity_rows_show_each_credit_movement_with_its_kind(user):
    fund(user, 100)
    lot = grant(user, 500, days=2)
    paid = _pay(user, 550, "order:1")
    wallet_spend_return(
        transfer=paid.transfer,
        amount=550,
        idempotency_key="refund:1",
        description="Refund of order CP-TEST0001",
        reference="order:CP-TEST0001",
    )
    wallet_expire_credit(now=region_day_end(user.region, lot.expires_on))

    rows = hooks(_client_for(user).get(WALLET), "activity-row")

    kinds = [(r.attrs["data-kind"], r.attrs["data-amount-minor"]) for r in rows]
    assert kinds == [
        ("credit_expiry", "-500"),
        ("refund", "50"),
        ("credit_return", "500"),
        ("order_payment", "-50"),
        ("credit_spend", "-500"),
        ("credit_grant", "500"),
        ("credit", "100"),
    ]
    labels = [r.text for r in rows]
    assert "Credit expired" in labels[0]
    assert "Credit returned" in labels[2]
    assert "Credit spent" in labels[4]
    assert "Credit received" in labels[5]
    assert all(
        r.attrs.get("data-credit") == "true" for r in rows if "credit_" in r.attrs["data-kind"]
    )


def test_a_yen_shopper_sees_whole_yen_credit():
    shopper = UserFactory(region_id="JP")
    grant(shopper, 1500, days=10)
    response = _client_for(shopper).get(WALLET)
    row = hook(response, "promo-credit")
    assert row.attrs["data-amount-minor"] == "1500"
    assert row.attrs["data-expires"] == days_from_today(shopper, 10).isoformat()
    assert "1,500" in row.text
    assert hook(response, "wallet-balance").attrs["data-currency"] == "JPY"


@pytest.mark.parametrize("lots", [1, 12])
def test_the_wallet_query_count_does_not_grow_with_lots(lots):
    shopper = UserFactory()
    fund(shopper, 100)
    for number in range(lots):
        grant(shopper, 100 + number, days=number)
    client = _client_for(shopper)
    with assert_num_queries(WALLET_QUERIES):
        response = client.get(WALLET)
    assert len(hooks(response, "promo-credit")) == lots


@pytest.mark.parametrize("lots", [0, 1, 12])
def test_the_balance_is_one_query_whatever_the_lots(lots, django_assert_num_queries):
    shopper = UserFactory()
    fund(shopper, 100)
    for number in range(lots):
        grant(shopper, 10, days=number)
    shopper.region  # noqa: B018  (loaded, as every page has it)
    with django_assert_num_queries(1):
        balance = wallet_balance_get(user=shopper)
    assert (balance.amount, balance.money, balance.credit) == (100 + 10 * lots, 100, 10 * lots)
    assert len(balance.lots) == lots
