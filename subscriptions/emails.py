"""The Subscribe & Save e-mails (docs/subscriptions.md): the reminder 3 days before a delivery
(its price, a price change since the last delivery, a link to skip it), a failed payment (we
try again on the next run, or the subscription is paused), a subscription paused because its
product is no longer sold or it has no address. Sent after commit; a mail server that fails is
logged, never raised (the run goes on). No card number is ever in one (its last 4 digits)."""

import logging

from django.urls import reverse

from catalog.money import format_money
from config.mail import mail_send
from subscriptions.models import Subscription

logger = logging.getLogger(__name__)


def _subscription(subscription_id: int) -> Subscription:
    return Subscription.objects.select_related("user", "product", "region", "card").get(
        pk=subscription_id
    )


def _money(sub: Subscription, amount: int) -> str:
    return format_money(amount, currency=sub.region.currency, locale=sub.region.locale)


def _send(sub: Subscription, *, template: str, subject: str, context: dict) -> None:
    context = {
        "subscription": sub,
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
        logger.exception("subscription %s: the %s e-mail was not sent", sub.pk, template)


def subscription_payment_failed_mail_send(*, subscription_id: int, attempt: int, paused: bool):
    """A delivery's payment failed: we try again on the next run, or (after the last attempt)
    the subscription is paused until the shopper resumes it."""
    sub = _subscription(subscription_id)
    subject = (
        f"Subscribe & Save paused: we could not take payment for {sub.product.name}"
        if paused
        else f"Payment failed for your {sub.product.name} delivery: we will try again"
    )
    _send(
        sub,
        template="payment_failed",
        subject=subject,
        context={"attempt": attempt, "paused": paused},
    )


def subscription_paused_mail_send(*, subscription_id: int, message: str):
    """The shop paused the subscription: its product is no longer sold, or it has no address."""
    sub = _subscription(subscription_id)
    _send(
        sub,
        template="paused",
        subject=f"Subscribe & Save paused: {sub.product.name}",
        context={"message": message},
    )


def subscription_reminder_mail_send(
    *, subscription_id: int, due_date, unit_price: int, total: int, previous_unit_price
):
    """The reminder before a delivery: when, what it costs, whether the price changed since
    the last delivery, and a link to skip it."""
    sub = _subscription(subscription_id)
    _send(
        sub,
        template="reminder",
        subject=f"Your {sub.product.name} delivery is on {due_date:%d %B %Y}",
        context={
            "due_date": due_date,
            "unit_price": _money(sub, unit_price),
            "total": _money(sub, total),
            "previous_unit_price": (
                _money(sub, previous_unit_price)
                if previous_unit_price is not None and previous_unit_price != unit_price
                else ""
            ),
            "price_went": ""
            if previous_unit_price in (None, unit_price)
            else ("up" if unit_price > previous_unit_price else "down"),
            "skip_url": reverse("subscriptions:skip", kwargs={"subscription_id": sub.pk})
            + f"?date={due_date:%Y-%m-%d}",
        },
    )
