"""Gift card delivery under concurrency, on PostgreSQL with real threads (docs/worker.md).

    (a) 20 db_worker loops at once, 20 queued jobs of one card          → one e-mail, one code
    (b) 20 delivery jobs of one card called at once (a retry, the sweep) → one sent, 19 skipped

SQLite ignores `select_for_update`, so these tests prove nothing there: they FAIL (never skip)
on any other database.
"""

import pytest
from django.core import mail
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from checkout.models import OrderGiftCard
from checkout.services.giftcard_delivery import giftcard_deliver as deliver
from checkout.tasks import giftcard_deliver
from config.jobs import job_enqueue
from tests.accounts.factories import UserFactory
from tests.checkout.gift_orders import gift_order, gifts_of, sent_codes
from tests.wallet.test_races import assert_ledger_clean, run_together
from wallet.models import GiftCard, Transfer
from wallet.services import giftcard_redeem

THREADS = 20
FRIEND = "friend@example.com"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _paid_card() -> OrderGiftCard:
    order = gift_order(UserFactory(region_id="US"), {"amount": 2500, "recipient_email": FRIEND})
    (gift,) = gifts_of(order)
    assert gift.status == "scheduled"
    mail.outbox.clear()
    return gift


def _worker(index: int) -> Worker:
    """The db_worker's own loop in batch mode (what `manage.py db_worker --batch` runs),
    without its signal handlers (a thread may not install them)."""
    return Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"race-worker-{index}",
        excluded_queue_names=[],
    )


def test_twenty_workers_at_once_send_one_email_and_leave_one_live_code():
    gift = _paid_card()
    for _ in range(THREADS - 1):  # with the one issuing queued: 20 jobs of one card
        job_enqueue(giftcard_deliver, order_gift_card_id=gift.pk)
    assert DBTaskResult.objects.filter(status="READY").count() == THREADS

    outcomes = run_together([_worker(i).run for i in range(THREADS)])

    assert [o.error for o in outcomes if o.error is not None] == []
    (code,) = sent_codes(FRIEND)
    results = DBTaskResult.objects.values_list("status", "return_value")
    assert sorted(results) == [("SUCCESSFUL", "sent")] + [("SUCCESSFUL", "skipped")] * 19
    gift.refresh_from_db()
    assert (gift.status, gift.attempts) == ("sent", 0)
    assert GiftCard.objects.count() == 1
    assert Transfer.objects.filter(kind=Transfer.Kind.GIFTCARD_ISSUE).count() == 1
    giftcard_redeem(user=UserFactory(region_id="US"), code=code)
    assert_ledger_clean()


def test_twenty_delivery_jobs_of_one_card_at_once_send_it_once():
    gift = _paid_card()

    outcomes = run_together(
        [lambda: deliver(order_gift_card_id=gift.pk).status for _ in range(THREADS)]
    )

    assert sorted(o.value for o in outcomes) == ["sent"] + ["skipped"] * (THREADS - 1)
    assert len(sent_codes(FRIEND)) == 1
    assert OrderGiftCard.objects.get(pk=gift.pk).status == "sent"
    assert_ledger_clean()
