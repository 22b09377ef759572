"""Race tests for reloads, on PostgreSQL with real threads released together by a barrier
(SQLite ignores `select_for_update`: these FAIL there, never skip).

    (a) 20 shoppers' purchases at once, each leaving its balance below its auto-reload
        threshold, then each purchase's job run twice at once (40 threads), then the queue
        by the real worker                                      → exactly one reload per purchase
    (b) one reload form sent from 20 threads (one key)          → one charge, one credit

20 shoppers rather than one shopper's 20 orders: the job checks the balance again before it
charges (a shopper whose balance is back above the threshold is not charged), so one shopper's
later orders would rightly not reload; 20 shoppers make every purchase owe exactly one reload,
and all 20 credits still contend for the one provider clearing account.

Run: `scripts/test-services.sh .venv/bin/pytest tests/checkout/test_reload_races.py -q`.
"""

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult

from checkout import payments
from checkout.models import AutoReload, Order, Reload
from checkout.payments import TestGateway
from checkout.reload_tasks import auto_reload_run
from checkout.selectors import SESSION_USE_BALANCE
from checkout.services import order_place
from checkout.services.auto_reloads import auto_reload_settings_save
from checkout.services.reloads import reload_make
from config.jobs import jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, balance, cart_fill, fund, new_key
from tests.wallet.test_races import run_together
from wallet.models import Account, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.shop_balances import account_balance_get

THREADS = 20

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def gateway(monkeypatch) -> TestGateway:
    """One fresh test gateway for every thread (it is thread-safe), holding only this test's
    calls."""
    fresh = TestGateway()
    monkeypatch.setattr(payments, "_provider", fresh)
    return fresh


def _errors(outcomes):
    return [o.error for o in outcomes if o.error is not None]


def test_twenty_purchases_at_once_each_reload_exactly_once(gateway):
    book = ProductFactory(name="A Book", prices={"US": 2999})
    shoppers = [UserFactory(region_id="US") for _ in range(THREADS)]
    for shopper in shoppers:
        fund(shopper, 3000)
        auto_reload_settings_save(
            user=shopper, enabled=True, threshold=1000, amount=2500, card_number=APPROVED
        )
        cart_fill(shopper, (book, 1))

    placed = run_together(
        [
            lambda s=shopper: order_place(
                user=s,
                session={SESSION_USE_BALANCE: True},
                idempotency_key=new_key(),
                card_number="",
            )
            for shopper in shoppers
        ]
    )
    assert _errors(placed) == []
    orders = [o.value for o in placed]
    assert Order.objects.count() == THREADS
    # Each order's on-commit check enqueued its job (balance 0.01 < 10.00).
    assert DBTaskResult.objects.filter(task_path__endswith="auto_reload_run").count() == THREADS

    # Each purchase's job twice at once, as two workers would (`.call()` runs its body here).
    runs = run_together(
        [lambda o=order: auto_reload_run.call(order_id=o.pk) for order in orders for _ in "ab"]
    )
    assert _errors(runs) == []
    jobs_run_pending()  # the queued jobs themselves: each finds its reload done

    assert Reload.objects.count() == THREADS
    assert sorted(Reload.objects.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    assert set(Reload.objects.values_list("status", flat=True)) == {"completed"}
    assert Transfer.objects.filter(kind=Transfer.Kind.RELOAD).count() == THREADS
    assert len(gateway.captured) == THREADS
    assert [balance(s) for s in shoppers] == [1 + 2500] * THREADS
    clearing = Account.objects.get(kind=Account.Kind.CARD_RELOADS, currency="USD")
    assert account_balance_get(account=clearing) == -2500 * THREADS
    assert AutoReload.objects.filter(enabled=True).count() == THREADS
    jobs = DBTaskResult.objects.filter(task_path__endswith="auto_reload_run")
    assert jobs.filter(status="SUCCESSFUL").count() == THREADS  # none failed, none retried
    assert len([m for m in mail.outbox if "reloaded" in m.subject]) == THREADS
    assert ledger_reconcile().clean


def test_one_reload_form_from_twenty_threads_charges_once(gateway):
    shopper = UserFactory(region_id="US")
    key = new_key()
    outcomes = run_together(
        [
            lambda: reload_make(
                user=shopper, amount=2500, card_number=APPROVED, idempotency_key=key
            )
            for _ in range(THREADS)
        ]
    )
    assert _errors(outcomes) == []
    assert sum(not o.value.replayed for o in outcomes) == 1
    reload = Reload.objects.get()
    assert reload.status == "completed"
    assert Transfer.objects.filter(kind=Transfer.Kind.RELOAD).count() == 1
    assert len(gateway.captured) == 1
    assert balance(shopper) == 2500
    assert ledger_reconcile().clean
