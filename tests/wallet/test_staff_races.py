"""Race tests for the staff limits, on PostgreSQL with real threads (docs/interface.md §9).

One staff member sends 10 requests at once, each just under the threshold: the lock on their
user row makes each request measure the ones before it, so what is approved without a second
person never adds up past the threshold. A replayed form, sent 10 times at once, makes one
batch; two approvers at once apply an adjustment once. These FAIL (never skip) on SQLite.
"""

import pytest

from tests.accounts.factories import UserFactory
from tests.wallet.staff import ADJUSTERS, ADJUSTMENT_APPROVERS, ISSUERS, batch_request, staff_user
from tests.wallet.test_races import assert_ledger_clean, run_together
from wallet.exceptions import InvalidState
from wallet.models import Account, BalanceAdjustment, GiftCardBatch, Transfer
from wallet.services import (
    balance_adjustment_approve,
    system_account_get_or_create,
    wallet_account_get_or_create,
    wallet_adjust,
)

THREADS = 10

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _errors(outcomes) -> list[BaseException]:
    return [o.error for o in outcomes if o.error is not None]


def test_parallel_just_under_threshold_batches_never_add_up_past_it():
    issuer = staff_user(ISSUERS)
    # 1 card of 4,999.00 each: alone under the 5,000.00 threshold, any two above it.
    outcomes = run_together(
        [
            lambda n=n: batch_request(issuer, count=1, amount=499_900, name=f"race-{n}")
            for n in range(THREADS)
        ]
    )

    assert _errors(outcomes) == []
    statuses = sorted(o.value.status for o in outcomes)
    assert statuses == ["approved"] + ["pending_approval"] * (THREADS - 1)
    alone = GiftCardBatch.objects.filter(created_by=issuer, status="approved")
    assert sum(b.total for b in alone) == 499_900 <= 500_000


def test_parallel_just_under_threshold_adjustments_never_add_up_past_it():
    adjuster = staff_user(ADJUSTERS)
    accounts = [wallet_account_get_or_create(user=UserFactory()) for _ in range(THREADS)]
    system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency="USD")
    # 499.00 each: alone under the 500.00 threshold, any two above it.
    outcomes = run_together(
        [
            lambda account=account: wallet_adjust(
                account_id=account.pk,
                amount=49_900,
                reason="race",
                idempotency_key=f"race-{account.pk}",
                by=adjuster,
            )
            for account in accounts
        ]
    )

    assert _errors(outcomes) == []
    assert sorted(o.value.pending for o in outcomes) == [False] + [True] * (THREADS - 1)
    applied = BalanceAdjustment.objects.filter(requested_by=adjuster, status="applied")
    assert sum(abs(a.amount) for a in applied) == 49_900 <= 50_000
    assert sum(Account.objects.filter(kind="customer").values_list("balance", flat=True)) == 49_900
    assert Transfer.objects.filter(kind=Transfer.Kind.ADJUSTMENT).count() == 1
    assert_ledger_clean()


def test_a_batch_form_sent_ten_times_at_once_makes_one_batch():
    issuer = staff_user(ISSUERS)

    outcomes = run_together(
        [lambda: batch_request(issuer, count=5, idempotency_key="double-click")] * THREADS
    )

    assert _errors(outcomes) == []
    assert GiftCardBatch.objects.count() == 1
    assert {o.value.pk for o in outcomes} == {GiftCardBatch.objects.get().pk}


def test_two_approvers_at_once_apply_an_adjustment_once():
    adjuster = staff_user(ADJUSTERS)
    approvers = [staff_user(ADJUSTMENT_APPROVERS) for _ in range(THREADS)]
    account = wallet_account_get_or_create(user=UserFactory())
    pending = wallet_adjust(
        account_id=account.pk, amount=90_000, reason="big", idempotency_key="big", by=adjuster
    ).adjustment

    outcomes = run_together(
        [
            lambda who=who: balance_adjustment_approve(adjustment_id=pending.pk, approved_by=who)
            for who in approvers
        ]
    )

    errors = _errors(outcomes)
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, InvalidState) for e in errors), errors
    account.refresh_from_db()
    assert account.balance == 90_000
    assert Transfer.objects.filter(kind=Transfer.Kind.ADJUSTMENT).count() == 1
    assert_ledger_clean()
