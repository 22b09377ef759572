"""Coin packs in their order (docs/points.md): a pack's coins reach the wallet once its card
payment is captured, exactly once, and a refunded pack takes them back.

A pack is paid by card only, so its coins are never credited before the money is taken (a
failed capture credits nothing). The credit is one ledger transfer keyed by the order
(`coins-pack:<number>`), for all the order's packs together: the hook after the capture, the
periodic sweep and a refund that needs the coins credited first may all ask, and only the
first moves coins.
"""

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef, Sum, Value
from django.db.models.functions import Concat

from checkout.coin_emails import coins_credited_mail_send
from checkout.exceptions import RefundRefused
from checkout.locks import order_qs_select_for_update
from checkout.models import Order, OrderLine, Payment
from wallet.exceptions import InsufficientFunds
from wallet.models import Transfer
from wallet.services import coins_credit, coins_take_back
from wallet.units import format_coins

logger = logging.getLogger(__name__)

# The card payment states in which an order's packs are paid for (a refund of some lines
# leaves the rest paid; a full refund took the coins back after crediting them).
PAID = (Payment.Status.CAPTURED, Payment.Status.PARTLY_REFUNDED)
CREDIT_KEY = "coins-pack:"


def order_coins_credit(*, order_id: int) -> int:
    """Credit the coins of the paid order `order_id`'s coin packs (Σ `OrderLine.pack_coins`)
    to its shopper; returns the coins this call credited (0 when there was nothing to do).

    Locks the order, then (in the ledger) the coin accounts: docs/ledger.md's order. Idempotent
    on the key `coins-pack:<order number>`: the hook after the capture and the periodic sweep
    may both run (or run twice, at once: they queue on the order), and the coins are credited
    once. An order whose card payment is not captured (yet, or ever) is left as it is. Raises
    nothing of its own; a database failure propagates (`order_paid` logs it, the sweep retries).
    """
    with transaction.atomic():
        order = order_qs_select_for_update(order_id=order_id).select_related("user").first()
        if order is None:
            return 0
        payment = Payment.objects.filter(order=order).first()
        if payment is None or payment.status not in PAID:
            return 0
        return order_coins_credit_locked(order=order)


def order_coins_credit_locked(*, order: Order, notify: bool = True) -> int:
    """The credit of `order_coins_credit`, under the order lock the caller holds (a refund of
    a pack whose credit the hook has not made yet makes it first, so the take-back below
    always finds the coins it gave). Returns the coins credited now (0 on a replay)."""
    coins = OrderLine.objects.filter(order=order).aggregate(coins=Sum("pack_coins"))["coins"]
    if not coins:
        return 0
    result = coins_credit(
        user=order.user,
        coins=coins,
        idempotency_key=f"{CREDIT_KEY}{order.number}",
        description=f"Coins bought in order {order.number}",
        reference=f"order:{order.number}",
    )
    if result.replayed:
        return 0
    logger.info("order %s: %s coins credited", order.number, coins)
    # After commit: the buyer hears of coins that are really there (an outside call, never
    # under the order's lock). Not for a credit a refund makes just before taking it back.
    if notify:
        order_id = order.pk
        transaction.on_commit(
            lambda: coins_credited_mail_send(order_id=order_id, coins=coins), robust=True
        )
    return coins


def order_coins_take_back(*, order: Order, coins: int, idempotency_key: str, by=None):
    """Take back `coins` of refunded coin packs of the locked `order` (key
    `refund-pack:<refund key>`); returns the transfer. The pack's credit is made first when the
    hook has not made it yet. Raises `RefundRefused` (reason `coins_spent`) when the shopper
    no longer holds them: the caller's transaction rolls the whole refund back."""
    order_coins_credit_locked(order=order, notify=False)
    try:
        return coins_take_back(
            user=order.user,
            coins=coins,
            idempotency_key=f"refund-pack:{idempotency_key}",
            description=f"Coins of a refunded pack of order {order.number}",
            reference=f"order:{order.number}",
        ).transfer
    except InsufficientFunds:
        raise RefundRefused(
            f"The shopper already spent coins of this pack: {format_coins(coins)} would have "
            "to come back and they hold fewer. Nothing was refunded.",
            reason="coins_spent",
        ) from None


def coins_credits_due() -> list[int]:
    """Ids of orders paid by card whose coin packs were never credited (the hook after the
    capture failed or never ran): the periodic sweep's work. One query."""
    credited = Transfer.objects.filter(
        idempotency_key=Concat(Value(CREDIT_KEY), OuterRef("number"))
    )
    return list(
        Order.objects.filter(lines__pack_coins__gt=0, payment__status__in=PAID)
        .exclude(Exists(credited))
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )


def coins_credits_sweep() -> int:
    """Credit every order `coins_credits_due` finds, one transaction each; returns how many
    orders were credited. A failure is logged and left for the next sweep."""
    done = 0
    for order_id in coins_credits_due():
        try:
            done += order_coins_credit(order_id=order_id) > 0
        except Exception:
            logger.exception("order #%s: its coin packs were not credited", order_id)
    return done
