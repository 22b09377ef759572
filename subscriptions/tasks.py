"""Subscribe & Save's background jobs (docs/worker.md): the day's run, from `run_schedule`,
and a new subscription's first delivery, placed at once rather than at the next daily run.
Both take ids only and are idempotent (one order per subscription and period)."""

from django.tasks import task


@task
def subscriptions_due() -> dict:
    """Periodic (run_schedule, daily): the reminders and the deliveries due today in each
    region (idempotent)."""
    from subscriptions.services import subscriptions_run  # services enqueue these jobs

    summary = subscriptions_run()
    return {**summary.outcomes, "reminders": summary.reminders, "errors": summary.errors}


@task
def subscription_first_delivery(subscription_id: int) -> str:
    """Enqueued when a subscription starts (its first delivery is due that day): place it now,
    in the worker. A run that placed it first leaves nothing to do (`not_due`)."""
    from catalog.regions import region_today
    from subscriptions.models import Subscription
    from subscriptions.services import subscription_deliver

    sub = Subscription.objects.select_related("region").filter(pk=subscription_id).first()
    if sub is None:
        return "not_due"
    return subscription_deliver(subscription_id=sub.pk, today=region_today(sub.region)).status
