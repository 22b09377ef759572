"""Race tests of promotional credit, on PostgreSQL with real threads (see test_races.py).

20 tabs of one shopper pay from the same credit lots at once: the lots are locked before the
accounts, so the plans never overlap and neither a lot nor an account goes below zero.
"""

import pytest
from django.db import transaction

from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import fund, grant
from tests.wallet.test_races import THREADS, run_together
from wallet.exceptions import InsufficientFunds
from wallet.models import Account, CreditLot, CreditLotSpend, WalletSpend
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import system_account_get_or_create, wallet_spend

ROUNDS = range(1, 3)  # each race twice over (make test stays well under its time)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _pay(user, amount: int, key: str):
    def call():
        with transaction.atomic():
            return wallet_spend(
                user=user,
                amount=amount,
                payable_by_category={None: amount},
                idempotency_key=key,
                description="Order",
                reference=None,
            )

    return call


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("money", [0, 100])
def test_twenty_parallel_spends_of_one_shoppers_credit_never_overdraw(round_, money):
    user = UserFactory(region_id="US")
    if money:
        fund(user, money)
    lots = [grant(user, 500, days=5), grant(user, 300, days=9), grant(user, 200, days=2)]
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")

    outcomes = run_together([_pay(user, 150, f"race:{round_}:{money}:{n}") for n in range(THREADS)])

    unexpected = [
        o.error for o in outcomes if o.error and not isinstance(o.error, InsufficientFunds)
    ]
    assert not unexpected, unexpected
    paid = [o.value for o in outcomes if o.error is None]
    assert len(paid) == (1000 + money) // 150  # exactly as many as the wallet can pay
    assert sum(p.credit for p in paid) == min(1000, 150 * len(paid))
    remaining = dict(CreditLot.objects.filter(user=user).values_list("pk", "remaining"))
    assert all(left >= 0 for left in remaining.values())
    balance = wallet_balance_get(user=user)
    assert balance.amount == 1000 + money - 150 * len(paid)
    assert balance.credit == sum(remaining.values())
    # Soonest-expiring first, whatever the order the tabs were served in.
    if len(paid) * 150 <= 1000:
        assert remaining[lots[2].pk] == max(0, 200 - 150 * len(paid))
    assert WalletSpend.objects.filter(user=user).count() == len(paid)
    taken = sum(CreditLotSpend.objects.filter(lot__user=user).values_list("amount", flat=True))
    assert taken == 1000 - sum(remaining.values())
    report = ledger_reconcile()
    assert report.clean, report
