"""Background jobs (docs/worker.md): the one home of how the shop enqueues, retries and runs
them, on Django's tasks framework (`django.tasks`; the database backend by default).

Each app's jobs live in its `tasks.py` as `@task` functions taking ids (never objects, never a
code or a card number). A job is idempotent: it acts on a row it locks and whose status says
what was already done, so running it twice (a retry, two workers, the scheduler's sweep finding
it again) does the work once. A job that fails records its error on its row and enqueues
itself again after a back-off (`job_retry_at`); the row, not the queue, is the truth, so a job
lost from the queue is found again by the periodic sweep (`run_schedule`).
"""

import datetime
import logging

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def job_retry_at(*, attempts: int, now: datetime.datetime | None = None) -> datetime.datetime:
    """When to try again after `attempts` failed attempts: JOB_RETRY_BASE_DELAY seconds,
    doubled for each attempt after the first, never more than JOB_RETRY_MAX_DELAY."""
    delay = settings.JOB_RETRY_BASE_DELAY * 2 ** max(attempts - 1, 0)
    delay = min(delay, settings.JOB_RETRY_MAX_DELAY)
    return (now or timezone.now()) + datetime.timedelta(seconds=delay)


def job_enqueue(task, *, run_after: datetime.datetime | None = None, **kwargs) -> None:
    """Enqueue `task(**kwargs)` now, or to run from `run_after`. Never raises: the queue being
    unreachable is logged, and the periodic sweep finds the work again from its row."""
    try:
        if run_after is not None:
            task = task.using(run_after=run_after)
        task.enqueue(**kwargs)
    except Exception:
        logger.exception("job %s could not be enqueued", task.name)


def job_enqueue_on_commit(task, *, run_after: datetime.datetime | None = None, **kwargs) -> None:
    """Enqueue `task(**kwargs)` once the current transaction commits (never for work that
    rolled back; and a worker never looks for a row not committed yet)."""
    transaction.on_commit(lambda: job_enqueue(task, run_after=run_after, **kwargs), robust=True)


def jobs_run_pending(*, max_tasks: int | None = None) -> None:
    """Run the queued jobs that are due, in this process, until none is left (or `max_tasks`
    ran): what `run_schedule --now` and the tests do instead of a worker running beside."""
    options = {"batch": True, "interval": 0, "startup_delay": False, "verbosity": 0}
    if max_tasks is not None:
        options["max_tasks"] = max_tasks
    call_command("db_worker", **options)
