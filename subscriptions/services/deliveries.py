"""Placing Subscribe & Save deliveries (docs/subscriptions.md): each due period becomes an
ordinary order through `order_place` (checkout/baskets.py), exactly once.

Exactly once, however many runs at once: the order's idempotency key is the subscription,
its period and its try (`subscription:<id>:<period>:<tries>`; `Subscription.tries` counts the
tries that ended without an order and is never reset), so two runs placing the same delivery
share one key, one card hold and one order (the second replays the first); inside the order's
transaction the subscription is locked right after the cart (`_lock_due`) and must still be
active on that period and try, or nothing is written; and the period's row
(`SubscriptionPeriod`, unique per subscription and period) is written in that same
transaction (`_placed`). A shopper who skips, pauses or cancels before that lock gets no
order; after it, the order stands and the change applies from the next period.

A failed payment (the card declined, no card and too little balance, the capture failing)
keeps the period open and is tried again by each following run, at most
`SUBSCRIPTION_PAYMENT_RETRIES` times after the first attempt; then the subscription pauses.
The shopper gets an e-mail each time. A product no longer sold (withdrawn, no longer priced
in the region or no longer eligible) pauses the subscription and tells the shopper.
"""

import logging
from dataclasses import dataclass, replace
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from checkout.baskets import Basket, BasketLine
from checkout.exceptions import (
    AddressRequired,
    CardRequired,
    CheckoutChanged,
    EmptyCart,
    PaymentDeclined,
    ProductUnavailable,
)
from checkout.models import Order, SavedCard
from checkout.services import order_place
from subscriptions.emails import (
    subscription_paused_mail_send,
    subscription_payment_failed_mail_send,
)
from subscriptions.exceptions import NotDue
from subscriptions.locks import subscription_qs_select_for_update
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.pricing import discount_percent
from subscriptions.services.manage import _advance, period_record, subscription_pause_locked

logger = logging.getLogger(__name__)

Status = Subscription.Status
PeriodStatus = SubscriptionPeriod.Status

# Tries of one delivery in one run when the order is refused `CheckoutChanged` (each under a
# key of its own: `_order_place_tries`).
DELIVERY_TRIES = 4


@dataclass(frozen=True)
class DeliveryOutcome:
    # placed, failed (payment; retried), paused (payment failed for the last time, product
    # no longer sold, no address), not_due, retry (changed meanwhile: the next run tries again)
    status: str
    order: Order | None = None


def subscription_deliver(*, subscription_id: int, today) -> DeliveryOutcome:
    """Place the delivery of `subscription_id` due by `today` (a date in its region), once.

    Idempotent: a delivery already placed (by this run or another at the same time) is
    `not_due`, as is a subscription paused, cancelled or not due yet. Never raises for the
    shopper's state (a declined card, a product withdrawn, no address): the outcome says what
    happened, the period row and the e-mails say it to the shopper and to staff.
    """
    # With the count of the shopper's active subscriptions (their discount), in the same read.
    active = (
        Subscription.objects.filter(user_id=OuterRef("user_id"), status=Status.ACTIVE)
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    sub = (
        Subscription.objects.select_related("user__region", "product", "card")
        .annotate(active_count=Coalesce(Subquery(active, output_field=IntegerField()), 0))
        .filter(pk=subscription_id)
        .first()
    )
    if sub is None or sub.status != Status.ACTIVE or sub.next_date > today:
        return DeliveryOutcome("not_due")
    if sub.failed_attempts and sub.last_attempt_on is not None and sub.last_attempt_on >= today:
        # Its payment failed today already: the retry is the next day's (a cron starting the
        # run every minute must not use up the retries in minutes).
        return DeliveryOutcome("not_due")
    index, attempt = sub.period_index, sub.failed_attempts + 1
    card = sub.card or SavedCard.objects.filter(user_id=sub.user_id).order_by("-pk").first()
    current = _Try(tries=sub.tries)
    basket = Basket(
        lines=(
            BasketLine(
                product_id=sub.product_id,
                quantity=sub.quantity,
                percent_off=discount_percent(active_count=sub.active_count),
            ),
        ),
        address_id=sub.address_id,
        card_token=card.token if card is not None else "",
        source="Subscribe & Save",
        written=partial(_placed, subscription_id=sub.pk, today=today, current=current),
    )
    try:
        order = _order_place_tries(sub=sub, basket=basket, current=current)
    except NotDue:
        return DeliveryOutcome("not_due")
    except (ProductUnavailable, EmptyCart):
        return _stopped(
            sub.pk,
            index=index,
            reason=Subscription.PauseReason.UNAVAILABLE,
            message=f"{sub.product.name} is no longer sold here.",
        )
    except AddressRequired:
        return _stopped(
            sub.pk,
            index=index,
            reason=Subscription.PauseReason.ADDRESS,
            message="There is no delivery address.",
        )
    except CardRequired:
        return _payment_failed(
            sub.pk,
            today=today,
            index=index,
            attempt=attempt,
            tries=current.tries,
            message="Your balance did not cover the delivery and no card is saved.",
        )
    except PaymentDeclined as refused:
        return _payment_failed(
            sub.pk,
            today=today,
            index=index,
            attempt=attempt,
            tries=current.tries,
            message=refused.message,
        )
    if order is None:
        # Changed under the lock on every try: nothing was charged, the next run tries again.
        return DeliveryOutcome("retry")
    if order.status == Order.Status.PAYMENT_FAILED:
        # Authorised, then the capture failed: the order is not paid (its balance part came
        # back), so the period is open again, as for a declined card.
        return _payment_failed(
            sub.pk,
            today=today,
            index=index,
            attempt=attempt,
            tries=current.tries,
            message="The card payment could not be completed.",
            order=order,
        )
    return DeliveryOutcome("placed", order)


@dataclass
class _Try:
    tries: int  # the try a delivery is at: its key, and the count `_lock_due` expects
    # The subscription as `_lock_due` locked it, in the order's transaction (`_placed` writes
    # it there: no second read).
    locked: Subscription | None = None


def _order_place_tries(*, sub: Subscription, basket: Basket, current: _Try) -> Order | None:
    """`order_place` for the delivery under the key of the subscription's current try
    (`subscription:<id>:<period>:<tries>`); while it is refused `CheckoutChanged` (nothing
    charged: the balance moved under the lock — the shopper's own checkout, another delivery
    of theirs — or a promotion changed), the try is counted and the delivery priced again
    under the next key, at most `DELIVERY_TRIES` times in one run. Returns the order (None
    when every try was refused so); `current.tries` is the try it ended at (a payment
    refusal raised from there belongs to that try).

    A new key each time because a refused try's card hold was released, and a provider
    answers a key with its first hold: the same key would get the released hold back, which
    never pays. Two runs at once read the same count, share its key and so its hold and its
    order. Exactly once whatever the key: the order is written only under the subscription's
    lock, on the period and try still open (`_lock_due`). Raises `NotDue` (the try is counted
    too: a run that lost to a pause must not leave its released hold for the resume)."""
    for _ in range(DELIVERY_TRIES):
        tries = current.tries
        attempt = replace(
            basket,
            lock=partial(
                _lock_due,
                subscription_id=sub.pk,
                index=sub.period_index,
                tries=tries,
                current=current,
            ),
        )
        try:
            return order_place(
                user=sub.user,
                session=None,
                idempotency_key=f"subscription:{sub.pk}:{sub.period_index}:{tries}",
                basket=attempt,
            )
        except CheckoutChanged:
            current.tries = _tries_count(subscription_id=sub.pk, seen=tries)
        except NotDue:
            _tries_count(subscription_id=sub.pk, seen=tries)
            raise
    return None


def _tries_count(*, subscription_id: int, seen: int) -> int:
    """Count the try `seen` as ended without an order (once: a run at the same time that saw
    the same try counts nothing more); returns the next try."""
    Subscription.objects.filter(pk=subscription_id, tries=seen).update(tries=F("tries") + 1)
    return seen + 1


def _lock_due(*, subscription_id: int, index: int, tries: int, current: _Try) -> None:
    """Under the order's transaction, after the cart lock: the subscription must still be
    active on this period and try (kept in `current.locked` for `_placed`). Raises
    `NotDue`."""
    current.locked = None
    sub = subscription_qs_select_for_update(subscription_id=subscription_id).first()
    if (
        sub is None
        or sub.status != Status.ACTIVE
        or sub.period_index != index
        or sub.tries != tries
    ):
        raise NotDue("This delivery is no longer due.")
    current.locked = sub


def _placed(*, order: Order, lines, subscription_id: int, today, current: _Try) -> None:
    """Inside the order's transaction (the subscription locked by `_lock_due`, as it read it:
    `current.locked`): record the period placed with its order and move to the next period
    after `today` (periods missed while nothing ran are not made up: one delivery, then the
    schedule goes on). `lines`: the order's, as just written (one)."""
    sub = current.locked
    if sub is None or sub.pk != subscription_id:
        sub = Subscription.objects.get(pk=subscription_id)
    # A refusal's words of an earlier attempt are no longer the period's news; how many
    # attempts it took stays.
    period_record(sub, status=PeriodStatus.PLACED, order=order, message="")
    (line,) = lines
    sub.last_unit_price = line.unit_price
    _advance(sub, after=max(sub.next_date, today))
    sub.save()


def _payment_failed(
    subscription_id: int,
    *,
    today,
    index: int,
    attempt: int,
    tries: int,
    message: str,
    order: Order | None = None,
) -> DeliveryOutcome:
    """Record the failed payment attempt `attempt` of period `index`, made under try `tries`
    (once: a run at the same time that failed on the same try records nothing more), pause
    after the last one, e-mail the shopper."""
    with transaction.atomic():
        sub = subscription_qs_select_for_update(subscription_id=subscription_id).get()
        if order is not None:
            # The capture failed after `_placed` recorded the period and moved on: open it
            # again (once: a second run replaying the same order finds it done).
            period = SubscriptionPeriod.objects.filter(
                subscription=sub, index=index, order=order, status=PeriodStatus.PLACED
            ).first()
            if period is None:
                return DeliveryOutcome("failed")
            sub.period_index, sub.next_date = index, period.due_date
            sub.failed_attempts = attempt - 1
        elif sub.status != Status.ACTIVE or sub.period_index != index:
            return DeliveryOutcome("not_due")
        if sub.tries != tries:
            return DeliveryOutcome("failed")
        sub.failed_attempts, sub.tries, sub.last_attempt_on = attempt, tries + 1, today
        period_record(sub, status=PeriodStatus.FAILED, attempts=attempt, message=message)
        last = attempt > settings.SUBSCRIPTION_PAYMENT_RETRIES and sub.status == Status.ACTIVE
        if last:
            sub.status, sub.pause_reason = Status.PAUSED, Subscription.PauseReason.PAYMENT_FAILED
        sub.save()
        transaction.on_commit(
            partial(
                subscription_payment_failed_mail_send,
                subscription_id=sub.pk,
                attempt=attempt,
                paused=last,
            ),
            robust=True,
        )
    return DeliveryOutcome("paused" if last else "failed")


def _stopped(subscription_id: int, *, index: int, reason: str, message: str) -> DeliveryOutcome:
    """Pause for a reason the shopper must fix (the product, the address), record the
    period, e-mail them."""
    with transaction.atomic():
        sub = subscription_qs_select_for_update(subscription_id=subscription_id).get()
        if sub.status != Status.ACTIVE or sub.period_index != index:
            return DeliveryOutcome("not_due")
        period_record(sub, status=PeriodStatus.UNAVAILABLE, message=message)
        subscription_pause_locked(sub, reason=reason)
        transaction.on_commit(
            partial(subscription_paused_mail_send, subscription_id=sub.pk, message=message),
            robust=True,
        )
    return DeliveryOutcome("paused")
