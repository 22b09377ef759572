"""Delivering bought gift cards by e-mail (docs/giftcards.md, docs/worker.md): the delivery job,
its retries, the periodic sweep and staff sending a card again to a corrected address.

The `OrderGiftCard` row, not the queue, is the truth. A delivery job claims the row under its
lock (`scheduled` and due → `sending`, with a lease `claimed_until`) and commits before it does
anything slow, so two jobs for one card (a retry and the sweep, two workers) never both send:
the second finds it `sending` or `sent` and does nothing. Then the card gets its code
(`giftcard_code_renew`: the only copy, put in the e-mail and nowhere else) and the e-mail goes;
the row becomes `sent`. A failure counts an attempt, keeps a short error (the exception's
class and message, never the code) and is tried again after a back-off (`job_retry_at`); after
JOB_MAX_ATTEMPTS it is `failed`, for staff. A worker that died mid-send leaves a lease that
runs out; the sweep hands the row back to the queue, and that attempt's code dies with the
next one (at least once, never two live codes).
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from catalog.money import format_money
from catalog.regions import region_today
from checkout.giftcard_designs import design_get
from checkout.locks import ordergiftcard_qs_select_for_update_by_pk
from checkout.models import Delivery, OrderGiftCard
from checkout.services.giftcard_orders import (
    PAID,
    order_delivered_when_gift_cards_done,
    order_gift_cards_issue,
)
from config.jobs import job_enqueue, job_retry_at
from config.mail import mail_send, site_link
from wallet.codes import code_display
from wallet.exceptions import InvalidState, NotFound
from wallet.services.purchased import giftcard_code_renew

logger = logging.getLogger(__name__)

# How long a claim keeps other jobs off a card being sent; a delivery that is still due this
# long after it was queued (a lost job, a worker down) is queued again by the sweep.
DELIVERY_LEASE = datetime.timedelta(minutes=5)
REDEEM_PATH = "/gift-cards/redeem/"
INTERRUPTED = "Interrupted: the worker stopped while sending it"


class DeliveryFailed(Exception):
    """A delivery attempt failed; its message is the short error kept on the row (the class
    and message of what failed, never the code). Raised by the job so the task's own record
    shows the attempt failed too; the retry is already queued."""


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one run of the delivery job did: `sent`, `retry` (failed, queued again),
    `failed` (the last attempt failed) or `skipped` (nothing to do: not due, claimed by
    another job, already sent, refunded...)."""

    status: str
    attempts: int = 0


def _claim(gift_card_id: int, now: datetime.datetime) -> OrderGiftCard | None:
    """Claim the delivery for this job, or None when it is not this job's to send."""
    with transaction.atomic():
        gift = (
            ordergiftcard_qs_select_for_update_by_pk(gift_card_id=gift_card_id)
            .select_related("order__region", "order__user")
            .first()
        )
        if gift is None or gift.delivery != Delivery.EMAIL or gift.card_id is None:
            return None
        scheduled = gift.status == OrderGiftCard.Status.SCHEDULED and (
            gift.next_attempt_at is None or gift.next_attempt_at <= now
        )
        abandoned = gift.status == OrderGiftCard.Status.SENDING and (
            gift.claimed_until is None or gift.claimed_until <= now
        )
        if not (scheduled or abandoned):
            return None
        # The day to send it is a day in the buyer's region (the job may run early: a clock).
        if gift.send_on > region_today(gift.order.region, now=now):
            return None
        gift.status = OrderGiftCard.Status.SENDING
        gift.claimed_until = now + DELIVERY_LEASE
        gift.save(update_fields=["status", "claimed_until", "updated_at"])
    return gift


def _short_error(error: BaseException) -> str:
    # The class and the first line of the message: enough for staff, never a traceback; no
    # message of ours carries the code, and the mail server's reply is cut short.
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200]


def _record_failure(
    gift: OrderGiftCard, error: str, now: datetime.datetime, *, final: bool = False
) -> DeliveryOutcome:
    """One attempt failed: count it, keep the error, and queue the next attempt after the
    back-off, or stop at JOB_MAX_ATTEMPTS or when trying again cannot help (`final`):
    `failed`, staff see it, the sweep leaves it."""
    from checkout.tasks import giftcard_deliver  # the task module imports this one

    with transaction.atomic():
        row = ordergiftcard_qs_select_for_update_by_pk(gift_card_id=gift.pk).first()
        if row is None or row.status != OrderGiftCard.Status.SENDING:
            return DeliveryOutcome("skipped")  # refunded meanwhile: nothing to retry
        row.attempts += 1
        row.last_error = error
        row.claimed_until = None
        if final or row.attempts >= settings.JOB_MAX_ATTEMPTS:
            row.status = OrderGiftCard.Status.FAILED
            row.next_attempt_at = None
            outcome = DeliveryOutcome("failed", row.attempts)
        else:
            row.status = OrderGiftCard.Status.SCHEDULED
            row.next_attempt_at = job_retry_at(attempts=row.attempts, now=now)
            outcome = DeliveryOutcome("retry", row.attempts)
        row.save(
            update_fields=[
                "attempts",
                "last_error",
                "claimed_until",
                "status",
                "next_attempt_at",
                "updated_at",
            ]
        )
    if outcome.status == "retry":
        # Once the row is committed (the job runs in no outer transaction), to run when the
        # back-off is over; a lost job is found again by the sweep.
        job_enqueue(giftcard_deliver, run_after=row.next_attempt_at, order_gift_card_id=row.pk)
    if outcome.status == "failed" and not final:
        # Gave up on the mail server, not on the card (redeemed or refunded meanwhile).
        _buyer_tell_undelivered(row)
    logger.warning(
        "gift card %s of order %s: delivery attempt %s failed (%s)",
        gift.pk,
        gift.order.number,
        row.attempts,
        error,
    )
    return outcome


def _buyer_tell_undelivered(gift: OrderGiftCard) -> None:
    """The buyer hears that their gift did not arrive (the order page says so too), so a
    mistyped address is found by the one person who knows the right one. Committed already;
    a mail server still down is logged, never raised (the order page still says it)."""
    order = gift.order
    try:
        mail_send(
            to=order.user.email,
            subject=f"[Coinpurse] Your gift card for {gift.recipient_name} was not delivered",
            template="checkout/email/giftcard_undelivered",
            context={
                "gift": gift,
                "order": order,
                "amount": format_money(
                    gift.amount, currency=gift.currency, locale=order.region.locale
                ),
                "action_url": f"/orders/{order.number}/",
                "action_label": "See your order",
            },
        )
    except Exception:
        logger.exception("gift card %s: the buyer could not be told it failed", gift.pk)


@sensitive_variables("code", "issued", "context")
def _mail(gift: OrderGiftCard, code: str) -> None:
    order = gift.order
    # The code rides in the fragment: a browser never sends it to the server or its logs; the
    # redeem page's script fills the field from it (static/js/redeem-fill.js).
    code = code_display(code)  # XXXX-XXXXXX-XXXXX, as on a printed card
    redeem_url = f"{site_link(REDEEM_PATH)}#code={code}"
    context = {
        "gift": gift,
        "code": code,
        "amount": format_money(gift.amount, currency=gift.currency, locale=order.region.locale),
        "sender": gift.sender_shown,
        "design": design_get(gift.design),
        "action_url": redeem_url,
        "action_label": "Redeem your gift card",
    }
    mail_send(
        to=gift.recipient_email,
        subject=f"[Coinpurse] {context['sender']} sent you a {context['amount']} gift card",
        template="checkout/email/giftcard_delivery",
        context=context,
    )


@sensitive_variables("issued")
def giftcard_deliver(
    *, order_gift_card_id: int, now: datetime.datetime | None = None
) -> DeliveryOutcome:
    """The delivery job's work: send the bought gift card `order_gift_card_id` to its
    recipient if it is due and nobody else is sending it. Returns a `DeliveryOutcome`.

    Claims the row first (its own transaction), renews the card's code (the only copy goes in
    the e-mail), sends the e-mail with no lock held, then marks it `sent`. Idempotent: a run
    that finds it `sent`, `sending` under a live claim, not due or refunded does nothing, so
    running the job twice (or two workers at once) sends one e-mail and the card keeps one
    live code. A failure is recorded on the row and queued again after a back-off
    (`DeliveryOutcome("retry")`), or ends `failed` after JOB_MAX_ATTEMPTS.
    """
    now = now or timezone.now()
    gift = _claim(order_gift_card_id, now)
    if gift is None:
        return DeliveryOutcome("skipped")
    try:
        issued = giftcard_code_renew(card_id=gift.card_id)
    except (InvalidState, NotFound) as error:
        # The card was redeemed, refunded or disabled meanwhile: nothing to send, for staff.
        return _record_failure(gift, _short_error(error), now, final=True)
    try:
        _mail(gift, issued.code)
    except Exception as error:
        return _record_failure(gift, _short_error(error), now)
    # A guarded write: only the claim this job holds becomes `sent` (a refund that came
    # meanwhile keeps its own status).
    OrderGiftCard.objects.filter(pk=gift.pk, status=OrderGiftCard.Status.SENDING).update(
        status=OrderGiftCard.Status.SENT,
        sent_at=timezone.now(),
        claimed_until=None,
        last_error="",
        updated_at=timezone.now(),
    )
    # Committed (no transaction here): the order is delivered once its last card is.
    order_delivered_when_gift_cards_done(order_id=gift.order_id)
    return DeliveryOutcome("sent", gift.attempts + 1)


@dataclass(frozen=True)
class SweepResult:
    issued: int
    queued: int
    reclaimed: int


def giftcard_deliveries_sweep(*, now: datetime.datetime | None = None) -> SweepResult:
    """The periodic sweep (`checkout.tasks.giftcard_deliveries_due`): issue the cards of paid
    orders still `awaiting_payment` (the hook after the capture did not run), queue every
    `scheduled` delivery that is due and was not queued in the last DELIVERY_LEASE, and give
    the queue back the deliveries whose worker's claim ran out (`sending`, lease over).

    Idempotent: each row's `next_attempt_at` says when it was last queued, so the sweep every
    minute does not fill the queue; the job itself claims under the row's lock.
    """
    from checkout.tasks import giftcard_deliver  # the task module imports this one

    now = now or timezone.now()
    missed = (
        OrderGiftCard.objects.filter(
            status=OrderGiftCard.Status.AWAITING_PAYMENT, order__payment__status__in=PAID
        )
        .values_list("order_id", flat=True)
        .distinct()
    )
    issued = sum(order_gift_cards_issue(order_id=order_id) for order_id in sorted(set(missed)))
    # A claim that ran out is an attempt that ended without a word (the worker was killed, or
    # its process died sending): counted, so a card that kills its worker each time stops at
    # JOB_MAX_ATTEMPTS like any other failure.
    expired = OrderGiftCard.objects.filter(
        status=OrderGiftCard.Status.SENDING, claimed_until__lte=now
    )
    interrupted = {"attempts": F("attempts") + 1, "last_error": INTERRUPTED, "claimed_until": None}
    expired.filter(attempts__gte=settings.JOB_MAX_ATTEMPTS - 1).update(
        status=OrderGiftCard.Status.FAILED, next_attempt_at=None, **interrupted
    )
    reclaimed = expired.update(
        status=OrderGiftCard.Status.SCHEDULED, next_attempt_at=None, **interrupted
    )
    due = OrderGiftCard.objects.filter(
        status=OrderGiftCard.Status.SCHEDULED,
        delivery=Delivery.EMAIL,
        send_on__lte=now.date() + datetime.timedelta(days=1),  # the earliest zone's today
    ).filter(_not_queued_lately(now))
    ids = [
        gift.pk
        for gift in due.select_related("order__region")
        if gift.send_on <= region_today(gift.order.region, now=now)
    ]
    if ids:
        # Marked queued now, so the next sweep waits a lease before queuing them again.
        OrderGiftCard.objects.filter(pk__in=ids, status=OrderGiftCard.Status.SCHEDULED).update(
            next_attempt_at=now
        )
    for gift_id in ids:
        job_enqueue(giftcard_deliver, order_gift_card_id=gift_id)
    return SweepResult(issued=issued, queued=len(ids), reclaimed=reclaimed)


def _not_queued_lately(now: datetime.datetime) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now - DELIVERY_LEASE)


__all__ = [
    "DeliveryFailed",
    "DeliveryOutcome",
    "SweepResult",
    "giftcard_deliver",
    "giftcard_deliveries_sweep",
]
