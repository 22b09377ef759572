"""Bought gift cards in their order (docs/giftcards.md): written with the order, issued when
the money is taken, cancelled when it never is, and the order delivered once every card is.

Each card is issued through the wallet's own issuing service (`giftcard_issue(pending=True)`),
so its value is in the gift card liability from the moment the order is paid and the ledger
reconciles; it stays `pending` (not redeemable, no code anyone knows) until its delivery gives
it the code that reaches the recipient (checkout/services/giftcard_delivery.py).
"""

import datetime
import logging

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from catalog.regions import region_today, region_zone
from checkout.locks import order_qs_select_for_update, ordergiftcard_qs_select_for_update
from checkout.models import Delivery, Order, OrderGiftCard, OrderLine, Payment
from checkout.services.order_points import order_points_earn
from config.jobs import job_enqueue_on_commit
from wallet.services import giftcard_issue

logger = logging.getLogger(__name__)

# The card payment states in which gift cards not issued yet are still paid for: a refund of
# some lines leaves the rest paid (a refunded card is `refunded`, never issued later); an order
# refunded in full before its cards were issued issues none.
PAID = (Payment.Status.CAPTURED, Payment.Status.PARTLY_REFUNDED)


def delivery_due_at(*, order: Order, send_on: datetime.date) -> datetime.datetime:
    """The instant a delivery for `send_on` is due: the start of that day in the buyer's
    region's time zone (docs/interface.md §12), or now for a day already begun there."""
    if send_on <= region_today(order.region):
        return timezone.now()
    return datetime.datetime.combine(send_on, datetime.time.min, tzinfo=region_zone(order.region))


def order_gift_cards_write(*, order: Order, quote) -> None:
    """Write the order's gift cards, inside `order_place`'s transaction: each its own line
    (quantity 1, its amount, never discounted) and its `OrderGiftCard`, waiting for the
    payment. A card without a day, or whose day has passed while it sat in the cart, is sent
    on the day the order is placed (in the buyer's region)."""
    if not quote.gift_cards:
        return
    today = region_today(order.region)
    lines = OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product_id=card.product_id,
            product_name=card.name,
            quantity=1,
            unit_price=card.amount,
            line_total=card.amount,
            discount=0,
            unit_discounts=[0],
            is_digital=True,
        )
        for card in quote.gift_cards
    )
    OrderGiftCard.objects.bulk_create(
        OrderGiftCard(
            order=order,
            line=line,
            amount=card.amount,
            currency=order.currency,
            delivery=card.delivery,
            recipient_email=card.recipient_email,
            recipient_name=card.recipient_name,
            sender_name=card.sender_name,
            message=card.message,
            design=card.design,
            send_on=max(card.send_on or today, today),
        )
        for line, card in zip(lines, quote.gift_cards, strict=True)
    )


def order_gift_cards_issue(*, order_id: int) -> int:
    """Issue every gift card of the paid order `order_id` that is still `awaiting_payment`: a
    `pending` card in the buyer's region (its liability posted, key `order-giftcard:<id>`), the
    row `scheduled` (e-mail, its delivery job enqueued after commit to run at `send_on` in
    the region's time zone) or `ready` (print). Returns how many it issued.

    Locks the order, then its gift cards (docs/ledger.md). Idempotent: a card already issued is
    not `awaiting_payment` any more, so a second call (the hook and the periodic sweep, or two
    at once) issues nothing; the issue transfer's key backs it in the ledger. An order whose
    payment is not captured (yet, or ever) is left as it is.
    """
    from checkout.tasks import giftcard_deliver  # the task module imports the services

    with transaction.atomic():
        order = order_qs_select_for_update(order_id=order_id).select_related("region").first()
        if order is None:
            return 0
        payment = Payment.objects.filter(order=order).first()
        if payment is None or payment.status not in PAID:
            return 0
        if order.status in (Order.Status.REFUNDED, Order.Status.CANCELLED):
            return 0
        issued = 0
        for gift in ordergiftcard_qs_select_for_update(order_id=order.pk).filter(
            status=OrderGiftCard.Status.AWAITING_PAYMENT
        ):
            card = giftcard_issue(
                region=order.region,
                amount=gift.amount,
                pending=True,
                idempotency_key=f"order-giftcard:{gift.pk}",
            ).card  # its code is thrown away: the delivery gives it the one that is sent
            gift.card = card
            if gift.delivery == Delivery.PRINT:
                gift.status = OrderGiftCard.Status.READY
            else:
                gift.status = OrderGiftCard.Status.SCHEDULED
                # When the delivery is due: the job runs then, and the sweep finds it after.
                gift.next_attempt_at = delivery_due_at(order=order, send_on=gift.send_on)
                # After commit: a worker must never look for a row that is not there yet.
                later = gift.next_attempt_at if gift.next_attempt_at > timezone.now() else None
                job_enqueue_on_commit(giftcard_deliver, run_after=later, order_gift_card_id=gift.pk)
            gift.save(update_fields=["card", "status", "next_attempt_at", "updated_at"])
            issued += 1
    if issued:
        logger.info("order %s: %s gift card(s) issued", order.number, issued)
    return issued


def order_gift_cards_cancel(*, order_id: int) -> int:
    """The order's card payment failed: its gift cards still `awaiting_payment` become
    `cancelled` (none was issued: issuing waits for the capture). Returns how many.

    Called by `order_payment_fail` under the order's lock, inside its transaction; locks the
    gift cards after it (docs/ledger.md). Idempotent: a second call finds none waiting.
    """
    with transaction.atomic():
        waiting = [
            gift.pk
            for gift in ordergiftcard_qs_select_for_update(order_id=order_id).filter(
                status=OrderGiftCard.Status.AWAITING_PAYMENT
            )
        ]
        if waiting:
            OrderGiftCard.objects.filter(pk__in=waiting).update(
                status=OrderGiftCard.Status.CANCELLED, updated_at=timezone.now()
            )
    return len(waiting)


# A bought card whose part of the order is done: handed over (sent, downloaded) or refunded.
_DONE = (OrderGiftCard.Status.SENT, OrderGiftCard.Status.DOWNLOADED, OrderGiftCard.Status.REFUNDED)


def order_delivered_when_gift_cards_done(*, order_id: int) -> bool:
    """Mark an order that ships nothing `delivered` once every gift card bought in it is done
    (sent, downloaded or refunded): until then it is `placed`, so an order whose card goes out
    next month does not say "delivered" today. Returns whether it changed the order.

    Call it after the transaction that finished a card has committed, holding no lock: it is
    one guarded UPDATE (still `placed`, nothing to ship, no card left undone), so it takes the
    order's row only for itself and never waits on a bought card's lock while holding it.
    Whichever card finishes last sees every other's commit and marks the order; idempotent.
    """
    cards = OrderGiftCard.objects.filter(order=OuterRef("pk"))
    changed = (
        Order.objects.filter(pk=order_id, status=Order.Status.PLACED, shipping_method="")
        .filter(Exists(cards))
        .exclude(Exists(cards.exclude(status__in=_DONE)))
        .update(status=Order.Status.DELIVERED, delivered_at=timezone.now())
    )
    if changed:
        # Delivered now: what of it paid for goods earns its points (docs/points.md).
        order_points_earn(order_id=order_id)
    return bool(changed)
