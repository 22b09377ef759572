"""Coin packs' background job (docs/worker.md, docs/points.md): the sweep that credits a paid
order's coin packs when the hook after the capture did not. Takes no objects, idempotent (an
order's packs are credited once, keyed by the order, under the order's lock)."""

from django.tasks import task

from checkout.services.coin_orders import coins_credits_sweep


@task
def coin_packs_due() -> int:
    """Periodic (run_schedule): credit the coin packs of paid orders the hook missed."""
    return coins_credits_sweep()
