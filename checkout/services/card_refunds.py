"""The card part of a refund, sent back through the provider after the refund committed."""

import logging

from checkout.models import Payment, Refund
from checkout.payments import payment_provider_get

logger = logging.getLogger(__name__)


def card_refund_send(*, refund_id: int) -> None:
    """After commit: send the card part back through the provider and record its answer.

    A provider failure must not undo a refund that is already on the order; it is logged and
    the refund is marked `failed` (empty `provider_reference`), which staff see in the admin
    and can retry at the provider (same idempotency key, so never twice). Never raises.
    """
    refund = Refund.objects.select_related("order__payment").get(pk=refund_id)
    payment = refund.order.payment
    try:
        reference = payment_provider_get().refund(
            reference=payment.reference,
            amount=refund.from_card,
            currency=payment.currency,
            idempotency_key=f"refund:{refund.idempotency_key}",
        )
    except Exception:
        logger.exception("card refund of refund #%s failed at the provider", refund.pk)
        Refund.objects.filter(pk=refund.pk).update(card_status=Refund.CardStatus.FAILED)
        return
    Refund.objects.filter(pk=refund.pk).update(
        provider_reference=reference, card_status=Refund.CardStatus.SENT
    )
    refunded = refund.order.card_refunded
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.REFUNDED
        if refunded >= payment.amount
        else Payment.Status.PARTLY_REFUNDED
    )
