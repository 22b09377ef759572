"""Checkout's background jobs (docs/worker.md): the delivery of bought gift cards and its
periodic sweep. Each takes ids only and is idempotent: the row it acts on says what was done
(checkout/services/giftcard_delivery.py)."""

from django.tasks import task

from checkout.services import giftcard_delivery as delivery


@task
def giftcard_deliver(order_gift_card_id: int) -> str:
    """Send the bought gift card `order_gift_card_id` if it is due and nobody else is.

    Returns what the run did (`sent`, `skipped`). A failed attempt is recorded on the row and
    its retry queued first; then the job raises `DeliveryFailed` (the short error only), so
    the task's record in the admin shows the attempt failed too.
    """
    outcome = delivery.giftcard_deliver(order_gift_card_id=order_gift_card_id)
    if outcome.status in ("retry", "failed"):
        gift = f"order gift card #{order_gift_card_id}"
        raise delivery.DeliveryFailed(
            f"{gift}: attempt {outcome.attempts} failed ({outcome.status})"
        )
    return outcome.status


@task
def giftcard_deliveries_due() -> dict:
    """Periodic (run_schedule): issue the cards of paid orders the hook missed, queue the
    deliveries that are due, give back the claims of workers that died."""
    result = delivery.giftcard_deliveries_sweep()
    return {"issued": result.issued, "queued": result.queued, "reclaimed": result.reclaimed}
