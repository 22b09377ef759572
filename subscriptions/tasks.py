"""Subscribe & Save's background job (docs/worker.md): the day's run, from `run_schedule`."""

from django.tasks import task

from subscriptions.services import subscriptions_run


@task
def subscriptions_due() -> dict:
    """Periodic (run_schedule, daily): the reminders and the deliveries due today in each
    region (idempotent)."""
    summary = subscriptions_run()
    return {**summary.outcomes, "reminders": summary.reminders, "errors": summary.errors}
