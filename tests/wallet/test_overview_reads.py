"""The wallet page's two statements (wallet/overview_reads.py) answer what the querysets do:
`wallet_balance_get`, `unit_balances_get` and `Paginator(wallet_activity_list).get_page`, for
every kind of row and any page number, in two queries whatever the history."""

import datetime

import pytest
from django.core.paginator import Paginator

from accounts.models import User
from catalog.models import Category
from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import fund, grant
from tests.wallet.queries import count_queries
from tests.wallet.test_wallet_rows import _adjusted
from tests.wallet.units_given import coins_give, points_earn, points_give
from wallet.models import CreditLot, Posting
from wallet.overview_reads import wallet_overview_get
from wallet.selectors import activity_rows, wallet_activity_list, wallet_balance_get
from wallet.services import activity_report_create, wallet_credit, wallet_debit
from wallet.unit_selectors import unit_balances_get

pytestmark = pytest.mark.django_db

SIZE = 3


def _shopper_with_everything():
    user = UserFactory()
    fund(user, 10_00)
    wallet_debit(
        user=user, amount=1_50, idempotency_key=f"d-{user.pk}", description="Order CP-7K2M9QXR"
    )
    shoes = Category.objects.create(name="Shoes", slug="shoes")
    grant(user, 5_00, days=3, categories=[shoes.pk])
    grant(user, 2_00, days=1)
    expired = grant(user, 9_00, days=9)
    CreditLot.objects.filter(pk=expired.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    _adjusted(user)
    points_give(user, 120)
    points_earn(user, 30)
    coins_give(user, 7)
    posting = Posting.objects.filter(account__user=user, account__kind="customer").earliest("pk")
    activity_report_create(user=user, posting=posting, message="Not mine.")
    # Another currency's account and another shopper's rows are never on the page.
    other = UserFactory()
    fund(other, 3_00)
    return User.objects.select_related("region").get(pk=user.pk)


def _fields(row):
    posting = row.posting
    return (
        posting.pk,
        posting.amount,
        posting.balance_after,
        posting.currency,
        posting.account.kind,
        posting.transfer.kind,
        posting.transfer.created_at,
        row.description,
        row.order_number,
        row.order_url,
        row.report_id,
        row.report_status,
        row.kind,
    )


@pytest.mark.parametrize("page", [None, "1", "2", "3", "0", "-4", "99999999999999999999", "x"])
def test_the_page_equals_the_querysets(page):
    user = _shopper_with_everything()
    paginator = Paginator(wallet_activity_list(user=user), SIZE)
    expected = paginator.get_page(page)

    overview = wallet_overview_get(user=user, page=page, page_size=SIZE)

    assert overview.balance == wallet_balance_get(user=user)
    assert overview.balance.credit == 7_00
    assert len(overview.balance.lots) == 2
    assert overview.units == unit_balances_get(user=user)
    assert (overview.units.points, overview.units.coins) == (120, 7)
    assert overview.page.number == expected.number
    assert overview.page.paginator.count == paginator.count
    assert overview.page.paginator.num_pages == paginator.num_pages
    assert [_fields(r) for r in overview.rows] == [
        _fields(r) for r in activity_rows(expected.object_list)
    ]
    assert any(r.report_id for r in activity_rows(paginator.get_page(paginator.num_pages)))


def test_a_shopper_without_history_has_an_empty_first_page():
    user = User.objects.select_related("region").get(pk=UserFactory().pk)
    overview = wallet_overview_get(user=user, page="5", page_size=SIZE)
    assert overview.balance == wallet_balance_get(user=user)
    assert (overview.page.number, overview.page.paginator.num_pages, overview.rows) == (1, 1, [])


@pytest.mark.parametrize("movements", [1, 12])
def test_two_queries_whatever_the_history_and_the_page(movements):
    user = _shopper_with_everything()
    for number in range(movements):
        wallet_credit(user=user, amount=1, idempotency_key=f"m-{number}", description="m")
    for page in (None, "2", "999"):
        assert (
            count_queries(lambda p=page: wallet_overview_get(user=user, page=p, page_size=SIZE))
            == 2
        )
