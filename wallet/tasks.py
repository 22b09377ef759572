"""The wallet's background jobs (docs/worker.md)."""

from django.tasks import task

from wallet.services import wallet_expire_credit


@task
def credit_expire() -> dict:
    """Periodic (run_schedule): post the remainder of every promotional credit lot whose last
    day is over to breakage. Idempotent: each lot is emptied with its transfer."""
    result = wallet_expire_credit()
    return {"lots": result.lots, "amounts": result.amounts}
