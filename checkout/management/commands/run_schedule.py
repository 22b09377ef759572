import math
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import CommandError
from django.tasks import task_backends
from django.utils import timezone
from django.utils.module_loading import import_string

from config.commands import ShopCommand
from config.jobs import job_enqueue, jobs_run_pending


class Command(ShopCommand):
    help = (
        "Run the shop's periodic work (settings.PERIODIC_TASKS: due gift card deliveries, "
        "promotional credit expiry, pending card reloads) by enqueuing each task when its "
        "interval has passed; a worker (`manage.py db_worker`, started by `make run`) runs them. "
        "--once: enqueue every periodic task now and run the queue in this process, for cron "
        "(--enqueue-only leaves the queue to a worker). One summary line per pass; SIGTERM or "
        "Ctrl-C stops it cleanly between passes. See docs/worker.md."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="One pass: enqueue every periodic task, run it."
        )
        parser.add_argument(
            "--enqueue-only",
            action="store_true",
            help="With --once: only enqueue (a worker runs the queue).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=30.0,
            help="Seconds between passes of the loop (default 30).",
        )
        parser.add_argument(
            "--passes",
            type=int,
            default=None,
            help="Stop after this many passes of the loop (default: until stopped).",
        )

    def handle(self, *args, once, enqueue_only, interval, passes, **options):
        if enqueue_only and not once:
            raise CommandError("--enqueue-only goes with --once.")
        if passes is not None and passes < 1:
            raise CommandError("--passes must be 1 or more.")
        # A loop that never sleeps, or sleeps forever, is a mistake: 1 s to a day (below 1 s
        # only for a bounded run, as the tests make).
        if not math.isfinite(interval) or not 0 <= interval <= 86400:
            raise CommandError("--interval must be a number of seconds from 1 to 86400.")
        if interval < 1 and passes is None:
            raise CommandError("--interval below 1 second needs --passes (a bounded run).")
        if once and not enqueue_only and not _database_queue():
            raise CommandError(
                "--once runs the database queue; with another TASKS_BACKEND add --enqueue-only "
                "and let its worker run the jobs."
            )
        entries = self._entries()
        if once:
            self._pass(entries, last={}, run=not enqueue_only)
            return
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        last: dict[str, float] = {}
        done = 0
        self.stdout.write(f"run_schedule: every {interval:g} s, {len(entries)} periodic task(s).")
        while not stop.is_set():
            self._pass(entries, last=last, run=False)
            done += 1
            if passes is not None and done >= passes:
                break
            stop.wait(interval)
        self.stdout.write("run_schedule: stopped.")

    def _entries(self) -> list[tuple[str, object, int]]:
        """(path, task, seconds) for each PERIODIC_TASKS entry that names a task. A path that
        does not import is reported and left out, so one bad line stops nothing else."""
        entries = []
        for path, seconds in settings.PERIODIC_TASKS:
            try:
                entries.append((path, import_string(path), int(seconds)))
            except ImportError as error:
                self.stderr.write(f"run_schedule: {path} left out: {error}")
        return entries

    def _pass(self, entries, *, last: dict, run: bool) -> None:
        started = timezone.now()
        clock = time.monotonic()
        queued, waiting = [], []
        for path, task, seconds in entries:
            if path in last and clock - last[path] < seconds:
                continue
            last[path] = clock
            if _still_queued(path):
                # The last one has not run yet (the worker is down or busy): one is enough.
                waiting.append(path.rsplit(".", 1)[-1])
                continue
            job_enqueue(task)
            queued.append(path.rsplit(".", 1)[-1])
        line = f"run_schedule: queued {len(queued)}"
        if queued:
            line += f" ({', '.join(queued)})"
        if waiting:
            line += f"; still queued {', '.join(waiting)}"
        if run:
            jobs_run_pending()
            line += f"; ran the queue: {_finished_since(started)}"
        self.stdout.write(line + ".")


def _database_queue() -> bool:
    from django_tasks_db.backend import DatabaseBackend

    return isinstance(task_backends["default"], DatabaseBackend)


def _still_queued(path: str) -> bool:
    if not _database_queue():
        return False
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=path, status="READY").exists()


def _finished_since(started) -> str:
    """'N succeeded, M failed': the jobs this pass ran (the database queue's own record)."""
    if not _database_queue():
        return "done"
    from django_tasks_db.models import DBTaskResult

    finished = DBTaskResult.objects.filter(finished_at__gte=started)
    ok = finished.filter(status="SUCCESSFUL").count()
    failed = finished.filter(status="FAILED").count()
    return f"{ok} succeeded, {failed} failed"
