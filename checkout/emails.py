"""The order e-mails (docs/interface.md §10): placed (or its card payment failed), shipped,
refunded. Each is text + HTML on the one base template (templates/email/), links to its order
page (absolute, from SITE_URL: config/mail.py) and is sent after commit. A mail server that
fails is logged, never a 500: the order is already committed. No card number is ever in one
(only the order's amounts)."""

import logging

from django.urls import reverse

from catalog.money import format_money
from checkout.models import Order, Refund
from config.mail import mail_send
from promotions.models import GiftCardBonus
from wallet.units import coins_for_value, format_coins

logger = logging.getLogger(__name__)


def _money(order: Order, amount: int) -> str:
    # Amounts as the shopper's store shows them (docs/interface.md §3).
    return format_money(amount, currency=order.currency, locale=order.region.locale)


def _coins(order: Order, value: int) -> str:
    """A coins part as the shopper reads it: "1,299 coins ($12.99)"."""
    coins = coins_for_value(value=value, currency=order.currency)
    return f"{format_coins(coins, locale=order.region.locale)} ({_money(order, value)})"


def _discounts(order: Order) -> list[dict]:
    """Each promotion's label and amount, from the order's own record of them (no query), so
    Subtotal + Shipping - these = Total; one "Discount" line for an order without it."""
    entries = [e for e in (order.promotions or []) if e.get("amount")]
    if sum(e["amount"] for e in entries) != order.discount:
        entries = [{"label": "Discount", "amount": order.discount}] if order.discount else []
    return [
        {
            "label": e.get("label") or e.get("code") or "Discount",
            "amount": _money(order, -e["amount"]),
        }
        for e in entries
    ]


def _order_send(order: Order, *, template: str, subject: str, extra: dict | None = None) -> None:
    lines = list(order.lines.all())
    for line in lines:
        line.amount = _money(order, line.line_total)
    context = {
        "order": order,
        "lines": lines,
        "subtotal": _money(order, order.subtotal),
        "shipping": _money(order, order.shipping),
        "discounts": _discounts(order),
        # The balance part, split as the wallet paid it: promotional credit first.
        "credit": _money(order, order.credit_applied) if order.credit_applied else "",
        "money": _money(order, order.balance_applied - order.credit_applied),
        "balance": _money(order, order.balance_applied),
        "card": _money(order, order.card_charged),
        # What coins paid for digital items, as coins and what they were worth.
        "coins": _coins(order, order.coins_applied) if order.coins_applied else "",
        "total": _money(order, order.total),
        "action_url": reverse("checkout:order", kwargs={"number": order.number}),
        "action_label": "View your order",
        **(extra or {}),
    }
    try:
        mail_send(
            to=order.user.email,
            subject=f"[Coinpurse] {subject}",
            template=f"checkout/email/{template}",
            context=context,
        )
    except Exception:
        # The order is committed: a mail server's failure must not turn its page into an
        # error, but it must not pass unnoticed either.
        name = {"order_placed": "confirmation"}.get(template, template.replace("_", " "))
        logger.exception("order %s: the %s e-mail was not sent", order.number, name)


def _order_get(order_id: int) -> Order:
    return Order.objects.select_related("user", "region").get(pk=order_id)


def order_placed_mail_send(*, order_id: int) -> None:
    """After commit (after the capture's callback): the confirmation, or — when the card
    capture failed — that it failed, never thanks for a payment that did not happen."""
    order = _order_get(order_id)
    if order.status == Order.Status.PAYMENT_FAILED:
        if order.lines.filter(list_price__isnull=False).exists():
            # A Subscribe & Save delivery's: its items were never in the cart, and the
            # subscription's own e-mail says what failed and when it is tried again
            # (docs/subscriptions.md), so this one would only contradict it.
            return
        _order_send(
            order,
            template="payment_failed",
            subject=f"Your card payment for order {order.number} failed",
        )
    else:
        _order_send(order, template="order_placed", subject=f"Your order {order.number}")


def order_shipped_mail_send(*, order_id: int) -> None:
    order = _order_get(order_id)
    _order_send(order, template="order_shipped", subject=f"Your order {order.number} is on its way")


def order_refunded_mail_send(*, refund_id: int) -> None:
    refund = Refund.objects.select_related("order__user", "order__region").get(pk=refund_id)
    order = refund.order
    _order_send(
        order,
        template="order_refunded",
        subject=f"A refund for your order {order.number}",
        extra={
            "refund": refund,
            "refund_amount": _money(order, refund.amount),
            "to_balance": _money(
                order,
                refund.from_balance
                + (
                    refund.from_card if refund.card_destination == Refund.Destination.BALANCE else 0
                ),
            ),
            # A refund of units keeps back what a promotion gave the units kept, and a refund of
            # gift cards the bonus credit they earned that the shopper already spent (docs/
            # promotions.md): each said, so the refund plus those adds up to what they paid.
            **_kept_back(refund),
            "to_card": _money(
                order, refund.from_card if refund.card_destination == Refund.Destination.CARD else 0
            ),
            "to_coins": _coins(order, refund.from_coins) if refund.from_coins else "",
        },
    )


def _kept_back(refund: Refund) -> dict:
    """What the refund kept back, split: the gift card bonus credit already spent (withheld by
    the claw-back this refund caused) and the rest, discounts the kept items no longer earn."""
    withheld = sum(
        GiftCardBonus.objects.filter(
            order_number=refund.order.number,
            claw_back_key=f"refund-bonus:{refund.idempotency_key}",
        ).values_list("withheld", flat=True)
    )
    withheld = min(withheld, max(refund.clawed_back, 0))
    discount = max(refund.clawed_back, 0) - withheld
    order = refund.order
    return {
        "kept_back": _money(order, discount) if discount > 0 else "",
        "bonus_withheld": _money(order, withheld) if withheld > 0 else "",
    }
