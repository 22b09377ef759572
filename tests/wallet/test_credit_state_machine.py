"""A hypothesis state machine over promotional credit: grants, money, spends, partial returns,
lots running out of time and the expiry sweep, in any order, with the ledger checked as it
goes (tests/wallet/ledger_state.py `WalletMachine`: each example in its own savepoint).
"""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.accounts.factories import UserFactory
from tests.wallet.credit_factories import fund, grant
from tests.wallet.ledger_state import WalletMachine, machine_examples
from wallet.credit import credit_plan
from wallet.exceptions import InsufficientFunds
from wallet.models import Account, CreditLot, WalletSpend
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import wallet_expire_credit, wallet_spend, wallet_spend_return

REGIONS = ["US", "JP"]
CATEGORY = 1
amounts = st.integers(min_value=1, max_value=3_000)
shoppers = st.integers(min_value=0, max_value=len(REGIONS) - 1)
LONG_AGO = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class CreditMachine(WalletMachine):
    def __init__(self):
        super().__init__()
        self.users = [UserFactory(region_id=region) for region in REGIONS]
        self.spends: list[WalletSpend] = []
        self.keys = 0

    def _key(self, kind: str) -> str:
        self.keys += 1
        return f"{kind}-{self.keys}"

    @rule(shopper=shoppers, amount=amounts)
    def add_money(self, shopper, amount):
        fund(self.users[shopper], amount)

    @rule(shopper=shoppers, amount=amounts, days=st.integers(0, 5), restricted=st.booleans())
    def grant_credit(self, shopper, amount, days, restricted):
        grant(self.users[shopper], amount, days=days, categories=[CATEGORY] if restricted else [])

    @rule(shopper=shoppers, amount=amounts, share=st.integers(0, 100))
    def pay(self, shopper, amount, share):
        user = self.users[shopper]
        # Part of the order is in the restricted category, the rest is not.
        payable = {CATEGORY: amount * share // 100, None: amount - amount * share // 100}
        before = wallet_balance_get(user=user)
        plan = credit_plan(lots=before.lots, amount=amount, payable_by_category=payable)
        if plan.money > before.money:
            with pytest.raises(InsufficientFunds), transaction.atomic():
                self._spend(user, amount, payable)
            assert wallet_balance_get(user=user) == before
            return
        with transaction.atomic():
            result = self._spend(user, amount, payable)
        assert (result.credit, result.money) == (plan.credit, plan.money)
        after = wallet_balance_get(user=user)
        assert after.amount == before.amount - amount
        self.spends.append(WalletSpend.objects.get(transfer=result.transfer))

    def _spend(self, user, amount, payable):
        return wallet_spend(
            user=user,
            amount=amount,
            payable_by_category=payable,
            idempotency_key=self._key("order"),
            description="Order",
            reference=None,
        )

    @precondition(lambda self: self.spends)
    @rule(pick=st.integers(0, 10**6), part=st.integers(1, 100))
    def give_back(self, pick, part):
        spend = self.spends[pick % len(self.spends)]
        spend.refresh_from_db()
        left = spend.credit + spend.money - spend.returned
        if not left:
            return
        amount = max(1, left * part // 100)
        with transaction.atomic():
            wallet_spend_return(
                transfer=spend.transfer,
                amount=amount,
                idempotency_key=self._key("refund"),
                description="Refund",
                reference=None,
            )

    @rule(pick=st.integers(0, 10**6))
    def a_lots_last_day_passes(self, pick):
        lots = list(CreditLot.objects.filter(expires_at__gt=timezone.now()).order_by("pk"))
        if lots:
            lot = lots[pick % len(lots)]
            CreditLot.objects.filter(pk=lot.pk).update(expires_at=LONG_AGO)

    @rule()
    def sweep(self):
        wallet_expire_credit()
        assert not CreditLot.objects.filter(remaining__gt=0, expires_at__lte=timezone.now())

    def whole_ledger_check(self):
        report = ledger_reconcile()
        assert report.clean, report
        self._the_balance_is_money_plus_unexpired_lots()
        self._returns_follow_the_cumulative_rule()

    def _the_balance_is_money_plus_unexpired_lots(self):
        now = timezone.now()
        for user in self.users:
            balance = wallet_balance_get(user=user)
            money = Account.objects.filter(user=user, kind=Account.Kind.CUSTOMER).first()
            assert balance.money == (money.balance if money else 0)
            lots = CreditLot.objects.filter(user=user, remaining__gt=0, expires_at__gt=now)
            assert balance.credit == sum(lot.remaining for lot in lots)
            assert balance.amount == balance.money + balance.credit

    def _returns_follow_the_cumulative_rule(self):
        for spend in self.spends:
            spend.refresh_from_db()
            lot_spends = list(spend.lot_spends.all())
            assert sum(s.amount for s in lot_spends) == spend.credit
            total = spend.credit + spend.money
            credit_back = sum(s.returned for s in lot_spends)
            assert credit_back == spend.credit * spend.returned // total


@pytest.mark.django_db
def test_credit_state_machine():
    run_state_machine_as_test(
        CreditMachine,
        settings=settings(
            max_examples=machine_examples(25),
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
