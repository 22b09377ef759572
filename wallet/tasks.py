"""The wallet's background jobs (docs/worker.md)."""

from django.tasks import task

from wallet.services import points_release, wallet_expire_credit


@task
def credit_expire() -> dict:
    """Periodic (run_schedule): post the remainder of every promotional credit lot whose last
    day is over to breakage. Idempotent: each lot is emptied with its transfer."""
    result = wallet_expire_credit()
    return {"lots": result.lots, "amounts": result.amounts}


@task
def points_release_due() -> dict:
    """Periodic (run_schedule): make available the reward points whose pending time is over
    (open points owed settled from them first). Idempotent: each earning is released once."""
    result = points_release()
    return {"earnings": result.earnings, "points": result.points}
