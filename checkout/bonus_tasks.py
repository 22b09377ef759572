"""The gift card bonus offer's background job (docs/worker.md, docs/promotions.md): the sweep
that grants a paid order's bonus credit when the hook after the capture did not. Takes no
objects, idempotent (each order's bonus is granted once, under the order's lock)."""

from django.tasks import task

from checkout.services.order_promotions import order_bonuses_grant_missed


@task
def giftcard_bonuses_due() -> int:
    """Periodic (run_schedule): grant the bonus of paid orders the hook missed."""
    return order_bonuses_grant_missed()
