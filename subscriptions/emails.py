"""The Subscribe & Save e-mails (docs/subscriptions.md): the reminder 3 days before a delivery
(its price, a price change since the last delivery, a link to skip it), a failed payment (we
try again on the next run, or the subscription is paused), a subscription paused because its
product is no longer sold or it has no address.

Each says what happened, what it costs (or would have cost), what happens next and links to
the page to act on it. Sent after commit; a mail server that fails is logged, never raised (the
run goes on). No card number is ever in one: a saved card is named by its last 4 digits.
"""

import datetime
import logging

from django.conf import settings
from django.urls import reverse

from catalog.models import Price
from catalog.money import format_money
from checkout.models import SavedCard
from config.mail import mail_send
from subscriptions.models import Subscription, SubscriptionPeriod
from subscriptions.pricing import DeliveryPrice, delivery_price

logger = logging.getLogger(__name__)


def _subscription(subscription_id: int) -> Subscription:
    return Subscription.objects.select_related("user", "product", "region", "card").get(
        pk=subscription_id
    )


def _money(sub: Subscription, amount: int) -> str:
    # Amounts as the shopper's store shows them (docs/interface.md §3): the region's locale.
    return format_money(amount, currency=sub.region.currency, locale=sub.region.locale)


def _day(day: datetime.date) -> str:
    """A delivery date as the shopper reads it: "Friday 4 December 2026" (no leading zero)."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def _card_last4(sub: Subscription) -> str:
    """The last 4 digits of the card a delivery would be paid with (as the run chooses it:
    the subscription's own, else the shopper's newest), "" when none is saved."""
    card = sub.card or SavedCard.objects.filter(user_id=sub.user_id).order_by("-pk").first()
    return card.card_last4 if card is not None else ""


def _price_now(sub: Subscription) -> DeliveryPrice | None:
    """What the next delivery costs at today's catalog price (None: no longer priced)."""
    list_price = (
        Price.objects.filter(product_id=sub.product_id, region_id=sub.region_id)
        .values_list("amount", flat=True)
        .first()
    )
    if list_price is None:
        return None
    active = Subscription.objects.filter(
        user_id=sub.user_id, status=Subscription.Status.ACTIVE
    ).count()
    return delivery_price(list_price=list_price, quantity=sub.quantity, active_count=active)


def _send(sub: Subscription, *, template: str, subject: str, context: dict) -> None:
    context = {
        "subscription": sub,
        "product": sub.product.name,
        "card_last4": _card_last4(sub),
        "action_url": reverse("subscriptions:list"),
        "action_label": "Manage your subscriptions",
        **context,
    }
    try:
        mail_send(
            to=sub.user.email,
            subject=f"[Coinpurse] {subject}",
            template=f"subscriptions/email/{template}",
            context=context,
        )
    except Exception:
        # Sent after commit: the delivery (or its failure) is recorded whatever the mail
        # server does, and the run goes on with the next subscription; staff see this line.
        logger.exception("subscription %s: the %s e-mail was not sent", sub.pk, template)


def subscription_payment_failed_mail_send(*, subscription_id: int, attempt: int, paused: bool):
    """A delivery's payment failed: which attempt it was, what it would have cost, and either
    that we try again on the next run or (after the last attempt) that the subscription is
    paused until the shopper resumes it; what to do either way (top up, add a card)."""
    try:
        sub = _subscription(subscription_id)
    except Subscription.DoesNotExist:
        return
    # The failed period's own record (its date and the refusal's words), written with this
    # attempt in the same transaction as the failure.
    period = (
        SubscriptionPeriod.objects.filter(
            subscription=sub, status=SubscriptionPeriod.Status.FAILED, attempts=attempt
        )
        .order_by("-index")
        .first()
    )
    due_date = period.due_date if period is not None else sub.next_date
    attempts = settings.SUBSCRIPTION_PAYMENT_RETRIES + 1
    price = _price_now(sub)
    subject = (
        f"Subscribe & Save paused: we could not take payment for {sub.product.name}"
        if paused
        else f"Payment failed for your {sub.product.name} delivery: we will try again"
    )
    _send(
        sub,
        template="payment_failed",
        subject=subject,
        context={
            "attempt": attempt,
            "attempts": attempts,
            "tries_left": max(attempts - attempt, 0),
            "paused": paused,
            "due_date": _day(due_date),
            # The refusal's own words; "Nothing was charged" is said once, by the template.
            "reason": (
                period.message.replace("Nothing was charged.", "").strip()
                if period is not None
                else ""
            ),
            "total": _money(sub, price.total) if price is not None else "",
            "redeem_url": reverse("wallet:redeem"),
            "reload_url": reverse("checkout:reload"),
        },
    )


def subscription_paused_mail_send(*, subscription_id: int, message: str):
    """The shop paused the subscription: its product is no longer sold, or it has no address.
    Nothing was charged; what to do to get deliveries again."""
    try:
        sub = _subscription(subscription_id)
    except Subscription.DoesNotExist:
        return
    _send(
        sub,
        template="paused",
        subject=f"Subscribe & Save paused: {sub.product.name}",
        context={
            "message": message,
            "due_date": _day(sub.next_date),
            "no_address": sub.pause_reason == Subscription.PauseReason.ADDRESS,
            "addresses_url": reverse("accounts:addresses"),
        },
    )


def subscription_reminder_mail_send(
    *, subscription_id: int, due_date, unit_price: int, total: int, previous_unit_price
):
    """The reminder before a delivery: when, how many, the unit price after the Subscribe &
    Save discount and the total before shipping and promotions, whether the price went up or
    down since the last delivery, how it will be paid, and a link to skip it."""
    try:
        sub = _subscription(subscription_id)
    except Subscription.DoesNotExist:
        return
    changed = previous_unit_price is not None and previous_unit_price != unit_price
    now = _price_now(sub)
    _send(
        sub,
        template="reminder",
        subject=f"Your {sub.product.name} delivery is on {_day(due_date)}",
        context={
            "due_date": _day(due_date),
            "quantity": sub.quantity,
            "unit_price": _money(sub, unit_price),
            "total": _money(sub, total),
            # The catalog price the discount is taken from, when it is still the one the run
            # priced (a price changed since is in the next reminder).
            "list_price": (
                _money(sub, now.list_price)
                if now is not None and now.unit_price == unit_price
                else ""
            ),
            "percent": now.percent if now is not None and now.unit_price == unit_price else "",
            "previous_unit_price": _money(sub, previous_unit_price) if changed else "",
            "price_went": ("up" if unit_price > previous_unit_price else "down") if changed else "",
            "skip_url": reverse("subscriptions:skip", kwargs={"subscription_id": sub.pk})
            + f"?date={due_date:%Y-%m-%d}",
        },
    )
