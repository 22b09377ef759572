"""Reward points' background job in checkout (docs/worker.md, docs/points.md): the sweep that
earns the points of a delivered order when the hook after the delivery or the payment did not.
Takes no objects, idempotent (an order's points are settled to its figure under its lock)."""

from django.tasks import task

from checkout.services.order_points import order_points_earn_missed


@task
def order_points_due() -> int:
    """Periodic (run_schedule): earn the points of delivered orders the hooks missed."""
    return order_points_earn_missed()
