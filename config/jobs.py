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
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

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
    ran): what `run_schedule --once` and the tests do instead of a worker running beside.

    The real db_worker loop, minus what belongs to a process of its own: it installs no signal
    handlers (the caller's process keeps its Ctrl-C), and inside the caller's transaction (a
    test's) it keeps the connection. Between jobs the worker closes a connection whose
    autocommit is not the settings' (`close_old_connections`), and inside a transaction that
    is the caller's own, whose work would be thrown away on PostgreSQL.
    """
    from django_tasks_db.management.commands import db_worker

    worker = db_worker.Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=get_random_string(32),
        excluded_queue_names=[],
    )
    if not connection.in_atomic_block:
        worker.run()
        return
    close = db_worker.close_old_connections
    db_worker.close_old_connections = _connections_kept
    try:
        worker.run()
    finally:
        db_worker.close_old_connections = close


def _connections_kept(**kwargs) -> None:
    """`close_old_connections` for a worker running inside the caller's transaction."""
