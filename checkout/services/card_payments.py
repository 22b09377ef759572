"""The card part of an order once it is written: capture after commit, and what happens when
the provider fails.

A failed capture marks the payment `failed` and the order `payment_failed`, gives the balance
part back through the ledger (promotional credit to its lots with their old expiry) and the
coins part to the shopper's coins, gives the promotions' uses back, puts the items back in the
cart and releases the hold. Released holds are recorded in the database
(`VoidedAuthorization`), never only in the cache. No call to the provider is made while a row
lock is held: captures and voids run after commit.
"""

import logging

from django.db import DatabaseError, transaction

from catalog.money import format_money
from checkout.locks import cart_qs_select_for_update, order_qs_select_for_update
from checkout.models import MAX_QUANTITY, Cart, CartLine, Order, Payment, VoidedAuthorization
from checkout.payments import Authorization, payment_provider_get
from checkout.services.cart import cart_gift_cards_restore
from checkout.services.giftcard_orders import order_gift_cards_cancel
from checkout.services.order_coins import order_coins_payment_failed
from checkout.services.paid import EVERY_STEP, PaidWork, order_paid
from promotions.services import promotion_redemptions_release
from wallet.models import AuditEntry, Transfer
from wallet.services import audit_record, wallet_spend_return
from wallet.units import coins_for_value, format_coins

logger = logging.getLogger(__name__)


def hold_is_voided(*, reference: str) -> bool:
    """Whether the hold `reference` was released (or its release was asked): such a hold must
    never pay for an order."""
    return VoidedAuthorization.objects.filter(reference=reference).exists()


def hold_void(
    *, authorization: Authorization, reason: str, order_id: int | None = None
) -> VoidedAuthorization | None:
    """Release a hold that will not be captured, and record it in the database.

    The record is written before the provider is asked, so a retry of the same checkout form
    (a provider replays a key's first hold) is refused even if this process dies mid-call;
    then it says how the call ended. A provider failure is logged and leaves the record
    `void_failed` for staff (the hold lapses at the provider; nothing was captured).
    Idempotent on the hold's reference. Never raises: it runs where an error has already
    happened, or after commit, and must not turn a page into a 500.
    """
    provider = payment_provider_get()
    record = None
    try:
        record, _ = VoidedAuthorization.objects.get_or_create(
            reference=authorization.reference,
            defaults={
                "provider": provider.name,
                "amount": authorization.amount,
                "currency": authorization.currency,
                "order_id": order_id,
                "reason": reason,
            },
        )
    except DatabaseError:
        logger.exception("hold %s: its release could not be recorded", authorization.reference)
    if record is not None and record.status == VoidedAuthorization.Status.VOIDED:
        return record
    status, error = VoidedAuthorization.Status.VOIDED, ""
    try:
        provider.void(authorization)
    except Exception as failure:
        logger.exception("hold %s: the provider failed to release it", authorization.reference)
        status, error = VoidedAuthorization.Status.VOID_FAILED, type(failure).__name__
    if record is not None:
        try:
            record.status, record.error = status, error
            record.save(update_fields=["status", "error", "updated_at"])
        except DatabaseError:
            logger.exception("hold %s: the void's outcome was not recorded", record.reference)
    return record


def payment_capture(
    *, order_id: int, authorization: Authorization, work: PaidWork = EVERY_STEP
) -> None:
    """After commit: take the held amount and record what the provider said.

    Success marks the payment `captured` and does the work that waited for it (`order_paid`,
    the steps `work` says the order can have). Any failure of the provider marks the order
    `payment_failed` (`order_payment_fail`). Never raises: it runs inside the request that
    placed the order, after the order committed, and an error there must not be a 500.
    """
    try:
        payment_provider_get().capture(authorization)
    except Exception:
        logger.exception("order #%s: the card capture failed", order_id)
        try:
            order_payment_fail(order_id=order_id, authorization=authorization)
        except Exception:
            logger.exception("order #%s: the failed payment was not undone", order_id)
        return
    try:
        Payment.objects.filter(order_id=order_id, status=Payment.Status.AUTHORIZED).update(
            status=Payment.Status.CAPTURED
        )
    except DatabaseError:
        # The money was taken: the payment row lags behind, and staff must see it.
        logger.exception("order #%s: captured, but the payment row still says authorised", order_id)
        return
    # Paid: the work that waited for the money (bought gift cards issued, a bonus granted).
    order_paid(order_id=order_id, work=work)


def order_payment_fail(*, order_id: int, authorization: Authorization) -> Order:
    """Undo an order whose card capture failed: the payment `failed`, the order
    `payment_failed`, its balance part back to the balance (one transfer from the purchases
    account, keyed per order, so exactly once however often this runs), its coins back to the
    shopper's coins (keyed per order too), its items back in the cart, and after commit the
    hold released and recorded.

    Locks the order, then the cart, then promotion usage (its uses given back), then (in the
    ledger) credit lots, the wallet accounts and the coins account: the global lock order of
    docs/ledger.md.
    Idempotent: an order already failed, or a payment already captured, is left as it is.
    """
    with transaction.atomic():
        order = order_qs_select_for_update(order_id=order_id).select_related("user").get()
        payment = Payment.objects.get(order=order)
        if order.status == Order.Status.PAYMENT_FAILED:
            return order
        if payment.status != Payment.Status.AUTHORIZED:
            logger.warning(
                "order #%s: a capture failed on a payment already %s", order_id, payment.status
            )
            return order
        # The cart before the ledger's wallet accounts: the global lock order (docs/ledger.md),
        # as `order_place` takes them, so the two can never wait on each other.
        _cart_restore(order)
        # Promotion usage next (docs/ledger.md): the order never stood, so its uses of a
        # promotion are given back, whatever PROMOTION_RELEASE_ON_REFUND says.
        promotion_redemptions_release(order_number=order.number)
        # Gift cards bought in it will never be issued (none was: issuing waits for the
        # capture).
        order_gift_cards_cancel(order_id=order.pk)
        transfer = None
        # Refunds wait for a captured card payment (`order_refund`), so nothing of the balance
        # part has gone back yet: it all goes back now.
        if order.balance_applied:
            # Through the wallet's spend return: promotional credit goes back to its lots with
            # their old expiry, the rest as money (credit lots, then the accounts: the lock
            # order), as a `reversal`: the payment never stood.
            transfer = wallet_spend_return(
                transfer=order.balance_transfer,
                amount=order.balance_applied,
                idempotency_key=f"order-payment-failed:{order.idempotency_key}",
                description=f"Order {order.number}: card payment failed, balance returned",
                reference=f"order:{order.number}",
                kind=Transfer.Kind.REVERSAL,
            ).transfer
        # The coins part after the money accounts (as `order_place` spent it).
        order_coins_payment_failed(order=order)
        order.status = Order.Status.PAYMENT_FAILED
        order.balance_return_transfer = transfer
        order.save(update_fields=["status", "balance_return_transfer"])
        payment.status = Payment.Status.FAILED
        payment.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=order.user,
            action=AuditEntry.Action.PAYMENT_FAILED,
            target=f"order {order.number}",
            detail="card capture failed; "
            f"{format_money(order.balance_applied, currency=order.currency)} "
            f"returned to the balance{_coins_returned(order)}",
        )
        # After commit: the provider call must not hold the order, cart or wallet locks.
        transaction.on_commit(
            lambda: hold_void(
                authorization=authorization,
                reason=VoidedAuthorization.Reason.CAPTURE_FAILED,
                order_id=order.pk,
            ),
            robust=True,
        )
    return order


def _coins_returned(order: Order) -> str:
    """The audit's words for the coins a failed payment gave back ("" when none)."""
    if not order.coins_applied:
        return ""
    coins = coins_for_value(value=order.coins_applied, currency=order.currency)
    return f", {format_coins(coins)} to the coins"


def _cart_restore(order: Order) -> None:
    """Put the order's items back in the shopper's cart (adding to what is there, capped), so
    after a failed payment they can pay again without filling it anew."""
    cart, _ = Cart.objects.get_or_create(user=order.user)
    cart_qs_select_for_update(user_id=order.user_id).get()
    lines = {line.product_id: line for line in CartLine.objects.filter(cart=cart)}
    # Bought gift cards go back as they were filled in (recipient, design, date), not as a
    # plain product line.
    cart_gift_cards_restore(order=order)
    # A Subscribe & Save delivery's lines (`list_price` set) never came from the cart: its
    # next attempt is the subscription's, not the shopper's (docs/subscriptions.md).
    for item in order.lines.filter(gift_card__isnull=True, list_price__isnull=True):
        line = lines.get(item.product_id)
        if line is None:
            CartLine.objects.create(cart=cart, product_id=item.product_id, quantity=item.quantity)
        else:
            line.quantity = min(MAX_QUANTITY, line.quantity + item.quantity)
            line.save(update_fields=["quantity"])
