"""The background worker's shared parts (docs/worker.md): the back-off, the periodic tasks and
the scheduler command `run_schedule` (cron's `--once`, the loop `make run` starts)."""

import datetime
import io
import signal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from checkout.models import OrderGiftCard
from config.jobs import job_enqueue, job_retry_at, jobs_run_pending
from tests.accounts.factories import UserFactory
from tests.checkout.gift_orders import (
    gift_order,
    gifts_of,
    sent_codes,
)
from tests.wallet.credit_factories import grant
from wallet.models import CreditLot, Transfer
from wallet.tasks import credit_expire

PERIODIC = "giftcard_deliveries_due, credit_expire"


@pytest.fixture(autouse=True)
def _periodic(settings):
    """This file's own list of periodic tasks (the settings' list grows with other slices)."""
    settings.PERIODIC_TASKS = [
        ("checkout.tasks.giftcard_deliveries_due", 60),
        ("wallet.tasks.credit_expire", 3600),
    ]


def _schedule(*args) -> str:
    out = io.StringIO()
    call_command("run_schedule", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_retries_back_off_doubling_up_to_the_cap(settings):
    settings.JOB_RETRY_BASE_DELAY, settings.JOB_RETRY_MAX_DELAY = 60, 600
    now = timezone.now()
    delays = [(job_retry_at(attempts=n, now=now) - now).total_seconds() for n in range(1, 7)]
    assert delays == [60, 120, 240, 480, 600, 600]


@pytest.mark.django_db
def test_run_schedule_once_finds_a_lost_delivery_and_sends_it():
    order = gift_order(
        UserFactory(region_id="US"), {"amount": 2500, "recipient_email": "f@x.example"}
    )
    DBTaskResult.objects.all().delete()  # the queue lost the delivery job
    # Queued "a lease ago": the sweep does not queue again what it queued a minute ago.
    OrderGiftCard.objects.update(next_attempt_at=timezone.now() - datetime.timedelta(minutes=10))

    out = _schedule("--once")

    assert out == f"run_schedule: queued 2 ({PERIODIC}); ran the queue: 3 succeeded, 0 failed.\n"
    assert len(sent_codes("f@x.example")) == 1
    assert gifts_of(order)[0].status == "sent"


@pytest.mark.django_db
def test_run_schedule_enqueue_only_leaves_the_queue_to_a_worker_and_does_not_pile_up():
    assert _schedule("--once", "--enqueue-only") == f"run_schedule: queued 2 ({PERIODIC}).\n"
    again = _schedule("--once", "--enqueue-only")
    assert again == f"run_schedule: queued 0; still queued {PERIODIC}.\n"
    assert DBTaskResult.objects.filter(status="READY").count() == 2


@pytest.mark.django_db
def test_run_schedule_loop_enqueues_each_task_when_its_interval_passed():
    out = _schedule("--interval", "0", "--passes", "2")
    assert out.splitlines() == [
        "run_schedule: every 0 s, 2 periodic task(s).",
        f"run_schedule: queued 2 ({PERIODIC}).",
        "run_schedule: queued 0.",  # none of the intervals (60 s and more) has passed
        "run_schedule: stopped.",
    ]


def test_run_schedule_refuses_enqueue_only_without_once():
    with pytest.raises(CommandError):
        _schedule("--enqueue-only")


@pytest.mark.django_db
def test_run_schedule_leaves_out_a_task_that_does_not_import(settings):
    settings.PERIODIC_TASKS = [*settings.PERIODIC_TASKS, ("checkout.tasks.no_such_task", 60)]
    out = _schedule("--once", "--enqueue-only")
    assert "run_schedule: checkout.tasks.no_such_task left out" in out
    assert out.endswith(f"run_schedule: queued 2 ({PERIODIC}).\n")


@pytest.mark.django_db
def test_credit_expire_job_posts_expired_credit_to_breakage_once():
    user = UserFactory(region_id="US")
    lot = grant(user, 500)
    CreditLot.objects.filter(pk=lot.pk).update(
        expires_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    job_enqueue(credit_expire)
    job_enqueue(credit_expire)  # queued twice (the scheduler and cron): expired once

    jobs_run_pending()

    lot.refresh_from_db()
    assert lot.remaining == 0
    assert Transfer.objects.filter(kind=Transfer.Kind.CREDIT_EXPIRY).count() == 1
    results = DBTaskResult.objects.filter(task_path="wallet.tasks.credit_expire")
    assert sorted(r["lots"] for r in results.values_list("return_value", flat=True)) == [0, 1]


@pytest.mark.django_db
def test_running_the_queue_in_process_leaves_its_signal_handlers_as_they_were():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    job_enqueue(credit_expire)

    jobs_run_pending()

    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert {sig: signal.getsignal(sig) for sig in before} == before


@pytest.mark.parametrize(
    "args",
    [
        ("--interval", "0"),
        ("--interval", "nan"),
        ("--interval", "inf"),
        ("--interval", "-1"),
        ("--interval", "100000"),
        ("--passes", "0"),
    ],
)
def test_run_schedule_refuses_a_loop_that_would_spin_or_never_wake(args):
    with pytest.raises(CommandError):
        _schedule(*args)
