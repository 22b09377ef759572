"""Races of staff adjusting points and coins, on PostgreSQL with real threads (docs/points.md).

One staff member sends 20 points adjustments at once: their user row lock makes each measure
the ones before it, so what is applied alone never adds up past 5,000 points. Twenty staff
members debit one shopper's coins at once: the coins account lock lets exactly as many through
as the coins cover, never below zero. These FAIL (never skip) on SQLite.
"""

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.staff import ADJUSTERS, staff_user
from tests.wallet.test_races import assert_ledger_clean, run_together
from wallet.exceptions import InsufficientFunds
from wallet.models import Account, BalanceAdjustment
from wallet.services import coins_credit, system_account_get_or_create, wallet_adjust
from wallet.shop_balances import account_balance_get

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_parallel_points_adjustments_applied_alone_never_add_up_past_the_threshold():
    adjuster = staff_user(ADJUSTERS)
    shoppers = [UserFactory() for _ in range(THREADS)]
    system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency="PTS")
    # 1,000 points each (their accounts made by the adjustments): five fit 5,000 points.
    outcomes = run_together(
        [
            lambda shopper=shopper: wallet_adjust(
                user_id=shopper.pk,
                kind=Account.Kind.CUSTOMER_POINTS,
                amount=1000,
                reason="race",
                idempotency_key=f"race-{shopper.pk}",
                by=adjuster,
            )
            for shopper in shoppers
        ]
    )

    assert [o.error for o in outcomes if o.error] == []
    assert sorted(o.value.pending for o in outcomes) == [False] * 5 + [True] * (THREADS - 5)
    applied = BalanceAdjustment.objects.filter(requested_by=adjuster, status="applied")
    assert sum(a.amount for a in applied) == 5000
    assert Account.objects.filter(kind="customer_points").count() == THREADS
    shop = Account.objects.get(kind="adjustments", currency="PTS")
    assert account_balance_get(account=shop) == -5000
    assert_ledger_clean()


def test_parallel_coin_debits_by_many_staff_never_take_the_coins_below_zero():
    shopper = UserFactory()
    coins_credit(user=shopper, coins=1000, idempotency_key="pack", description="coin pack")
    system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency="CNS")
    coins = Account.objects.get(user=shopper, kind="customer_coins")
    staff = [staff_user(ADJUSTERS) for _ in range(THREADS)]
    outcomes = run_together(
        [
            lambda member=member: wallet_adjust(
                account_id=coins.pk,
                amount=-100,
                reason="race",
                idempotency_key=f"race-{member.pk}",
                by=member,
            )
            for member in staff
        ]
    )

    refused = [o.error for o in outcomes if o.error is not None]
    assert len(refused) == THREADS - 10
    assert all(isinstance(error, InsufficientFunds) for error in refused)
    coins.refresh_from_db()
    assert coins.balance == 0
    assert BalanceAdjustment.objects.filter(status="applied").count() == 10
    assert BalanceAdjustment.objects.count() == 10  # a refused one leaves no row
    assert_ledger_clean()
