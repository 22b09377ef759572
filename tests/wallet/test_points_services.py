"""The points and coins services of the wallet (docs/points.md), one rule each: earning,
release, reversal with a shortfall, conversion, coins movements; the ledger reconciles after
each."""

import datetime

import pytest
from django.utils import timezone

from tests.accounts.factories import UserFactory
from wallet.exceptions import InsufficientFunds, PointsRefused
from wallet.models import Account, CreditLot, PointsEarning, PointsShortfall, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import (
    coins_credit,
    coins_return,
    coins_spend,
    coins_take_back,
    points_convert,
    points_order_settle,
    points_release,
)
from wallet.unit_selectors import coins_balance_get, points_balance_get

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _earn(user, paid, *, reference="order:CP-TEST0001", delivered_at=None):
    return points_order_settle(
        user=user,
        reference=reference,
        currency="USD",
        paid=paid,
        delivered_at=delivered_at or timezone.now(),
    )


def _balances(user):
    return points_balance_get(user=user)


def test_an_order_earns_whole_points_pending_for_14_days_then_available():
    user = UserFactory()
    delivered = timezone.now()
    earning = _earn(user, 12_599, delivered_at=delivered)
    assert earning.points == 125
    assert earning.release_at == delivered + 14 * DAY
    assert (_balances(user).available, _balances(user).pending) == (0, 125)
    assert points_release(now=delivered + 14 * DAY - datetime.timedelta(seconds=1)).earnings == 0
    result = points_release(now=delivered + 14 * DAY)
    assert (result.earnings, result.points) == (1, 125)
    assert points_release(now=delivered + 15 * DAY).earnings == 0  # idempotent
    assert (_balances(user).available, _balances(user).pending) == (125, 0)
    assert ledger_reconcile().clean


def test_settle_is_idempotent_and_never_raises_points():
    user = UserFactory()
    _earn(user, 10_000)
    _earn(user, 10_000)
    _earn(user, 50_000)
    assert PointsEarning.objects.get().points == 100
    assert Transfer.objects.filter(kind=Transfer.Kind.POINTS_EARN).count() == 1
    assert (
        points_order_settle(user=user, reference="order:CP-NOTDELIV", currency="USD", paid=9_999)
        is None
    )
    assert _earn(user, 99, reference="order:CP-SMALL001") is None


def test_a_refund_while_pending_takes_the_order_pending_points():
    user = UserFactory()
    _earn(user, 10_000)
    _earn(user, 6_050)
    earning = PointsEarning.objects.get()
    assert (earning.points, earning.reversed, _balances(user).pending) == (100, 40, 60)
    _earn(user, 0)
    assert _balances(user).pending == 0
    assert ledger_reconcile().clean


def test_a_reversal_after_conversion_is_owed_and_taken_from_the_next_release():
    user = UserFactory()
    start = timezone.now() - 30 * DAY
    _earn(user, 60_000, delivered_at=start)
    points_release(now=start + 14 * DAY)
    points_convert(user=user, points=500, idempotency_key="points-convert:t:1")
    assert _balances(user).available == 100
    _earn(user, 0)  # the whole order refunded: 600 points back, 100 left to take
    assert _balances(user).available == 0
    assert PointsShortfall.objects.get().owed == 500
    assert _balances(user).owed == 500
    _earn(user, 80_000, reference="order:CP-TEST0002", delivered_at=start)
    points_release(now=timezone.now())
    balance = _balances(user)
    assert (balance.available, balance.pending, balance.owed) == (300, 0, 0)
    assert ledger_reconcile().clean


def test_converting_gives_credit_without_expiry_and_refuses_with_a_reason():
    user = UserFactory()
    start = timezone.now() - 20 * DAY
    _earn(user, 120_000, delivered_at=start)
    points_release(now=timezone.now())
    result = points_convert(user=user, points=1_000, idempotency_key="points-convert:t:2")
    assert (result.points, result.credit, result.currency) == (1_000, 1_000, "USD")
    assert result.lot.never_expires
    replay = points_convert(user=user, points=1_000, idempotency_key="points-convert:t:2")
    assert replay.replayed
    assert replay.lot == result.lot
    for points, reason in ((750, "not_multiple"), (0, "not_multiple"), (-500, "not_multiple")):
        with pytest.raises(PointsRefused) as refused:
            points_convert(user=user, points=points, idempotency_key=f"points-convert:t:{points}")
        assert refused.value.reason == reason
    with pytest.raises(PointsRefused) as refused:
        points_convert(user=user, points=500, idempotency_key="points-convert:t:3")
    assert refused.value.reason == "too_few"
    with pytest.raises(PointsRefused) as refused:
        points_convert(user=user, points=500, idempotency_key="points-convert:t:2")
    assert refused.value.reason == "conflict"
    assert CreditLot.objects.count() == 1
    assert _balances(user).available == 200
    assert ledger_reconcile().clean


def test_coins_move_and_never_go_below_zero():
    user = UserFactory()
    coins_credit(user=user, coins=1_050, idempotency_key="k1", description="Coins bought")
    coins_credit(user=user, coins=1_050, idempotency_key="k1", description="Coins bought")
    coins_spend(user=user, coins=999, idempotency_key="k2", description="Spent")
    with pytest.raises(InsufficientFunds):
        coins_spend(user=user, coins=52, idempotency_key="k3", description="Spent")
    coins_return(user=user, coins=499, idempotency_key="k4", description="Returned")
    with pytest.raises(InsufficientFunds):
        coins_take_back(user=user, coins=1_050, idempotency_key="k5", description="Back")
    coins_take_back(user=user, coins=550, idempotency_key="k6", description="Back")
    assert coins_balance_get(user=user) == 0
    own = Account.objects.get(user=user, kind=Account.Kind.CUSTOMER_COINS)
    assert own.currency == "CNS"
    assert ledger_reconcile().clean
