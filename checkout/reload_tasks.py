"""The reload jobs (docs/worker.md): each takes ids only and is idempotent, so a retry, two
workers or the periodic sweep finding the same work again reload at most once."""

from django.tasks import task

from checkout.services.auto_reloads import auto_reload_run as _auto_reload_run
from checkout.services.reloads import reloads_pending_complete


@task
def auto_reload_run(order_id: int, attempt: int = 1) -> None:
    """The auto-reload after order `order_id` (at most one reload for it)."""
    _auto_reload_run(order_id=order_id, attempt=attempt)


@task
def card_reloads_pending_complete() -> int:
    """Periodic: finish the reloads charged whose balance credit did not land."""
    return reloads_pending_complete()
