"""Placing an order: the card authorised outside any lock, the balance debited and the order
written in one transaction (locks in the global order of docs/ledger.md), the card captured
after commit.
"""

import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from catalog.money import format_money
from checkout.exceptions import (
    CardRequired,
    CheckoutChanged,
    EmptyCart,
    ProductUnavailable,
)
from checkout.locks import cart_qs_select_for_update
from checkout.models import CartLine, Order, OrderLine, Payment
from checkout.payments import Authorization, payment_provider_get
from checkout.selectors import (
    checkout_quote_get,
)
from wallet.exceptions import InsufficientFunds
from wallet.models import Account, Transfer
from wallet.services import (
    wallet_debit,
)

logger = logging.getLogger(__name__)


ORDER_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Holds voided after a failed attempt, remembered (shared cache) for longer than a card hold
# lives, so a retry with the same key never builds an order on one (see `order_place`).
_VOIDED_HOLD = "checkout:voided-hold:"


_VOIDED_HOLD_MEMORY = 8 * 24 * 60 * 60


def _order_number() -> str:
    return "CP-" + "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(8))


def order_place(
    *,
    user,
    session,
    idempotency_key: str,
    card_number: str = "",
    expected_total: int | None = None,
    expected_amount_due: int | None = None,
) -> Order:
    """Turn the shopper's cart into a paid order, exactly once per `idempotency_key`.

    The card part is authorised before any lock is taken; then, in one transaction, the cart
    is locked, priced again, the balance part is debited through the wallet ledger (which
    locks the wallet account and refuses to overdraw), and the order is written and the cart
    emptied. The card is captured after commit, or voided if anything failed — so a declined
    card, a changed cart or a balance spent in another tab leave everything as it was.
    A replay of the key (double click, second tab, replayed POST) returns the first order.
    `expected_total` and `expected_amount_due` are what the summary showed the shopper; when
    given and the cart or balance no longer match them, nothing is charged (`CheckoutChanged`).
    Raises `EmptyCart`, `ProductUnavailable`, `CardRequired`, `PaymentDeclined`,
    `CheckoutChanged`.
    """
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _order_replayed(existing, user)
    quote = checkout_quote_get(user=user, session=session)
    if not quote.lines:
        # A concurrent submit of this same key may have committed its order (and emptied the
        # cart) since the look-up above: the replay lands on that order, not on "empty".
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _order_replayed(existing, user)
        raise EmptyCart("Your cart is empty.")
    if quote.unavailable:
        names = ", ".join(line.name for line in quote.unavailable)
        raise ProductUnavailable(f"Not sold in your region: {names}. Remove it to continue.")
    # The shopper agreed to the figures of the summary they saw; another tab may have changed
    # the cart or the balance since, and then they must see the new figures before paying.
    if (expected_total is not None and expected_total != quote.total) or (
        expected_amount_due is not None and expected_amount_due != quote.amount_due
    ):
        raise CheckoutChanged(
            "Your cart or balance changed since this summary was shown. Nothing was charged: "
            "check the summary again."
        )

    provider = payment_provider_get()
    authorization = None
    if quote.amount_due > 0:
        if not card_number.strip():
            raise CardRequired("Enter a card number to pay the rest.")
        authorization = provider.authorize(
            amount=quote.amount_due,
            currency=quote.currency,
            card_number=card_number,
            idempotency_key=f"order:{idempotency_key}",
        )
        # A provider replays a key's first result: after an attempt with this key failed and
        # voided its hold, a retry (the stale form posted again) gets that dead hold back, and
        # capturing it would leave the order unpaid. The shopper starts again with a new form.
        if cache.get(_VOIDED_HOLD + authorization.reference):
            raise CheckoutChanged("This checkout form is no longer valid. Please start again.")
    try:
        order = _order_write(
            user=user,
            session=session,
            idempotency_key=idempotency_key,
            quote=quote,
            authorization=authorization,
        )
    except Exception:
        # Nothing was written (the transaction rolled back) unless a concurrent request with
        # the same key wrote the order — then this hold is that order's, so keep it.
        if (
            authorization is not None
            and not Order.objects.filter(idempotency_key=idempotency_key).exists()
        ):
            provider.void(authorization)
            cache.set(_VOIDED_HOLD + authorization.reference, True, timeout=_VOIDED_HOLD_MEMORY)
        raise
    return order


def _order_replayed(order: Order, user) -> Order:
    if order.user_id != user.pk:
        raise CheckoutChanged("This checkout form is no longer valid. Please start again.")
    return order


def _order_write(*, user, session, idempotency_key, quote, authorization) -> Order:
    with transaction.atomic():
        # 1. The cart: concurrent orders of one shopper queue here.
        if cart_qs_select_for_update(user_id=user.pk).first() is None:
            raise EmptyCart("Your cart is empty.")
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _order_replayed(existing, user)
        fresh = checkout_quote_get(user=user, session=session)
        if (fresh.lines, fresh.total, fresh.balance_applied) != (
            quote.lines,
            quote.total,
            quote.balance_applied,
        ):
            raise CheckoutChanged(
                "Your cart or balance changed while you were paying. Check the summary again."
            )
        number = _order_number()
        # 4. The wallet account (inside wallet_debit): the balance is checked under its lock.
        transfer = None
        if quote.balance_applied:
            try:
                transfer = wallet_debit(
                    user=user,
                    amount=quote.balance_applied,
                    idempotency_key=f"order:{idempotency_key}",
                    description=f"Order {number}",
                    destination=Account.Kind.PURCHASES,
                    kind=Transfer.Kind.ORDER_PAYMENT,
                ).transfer
            except InsufficientFunds:
                raise CheckoutChanged(
                    "Your balance changed while you were paying (another order?). "
                    "Check the summary again."
                ) from None
        order = Order.objects.create(
            number=number,
            user=user,
            region=user.region,
            currency=quote.currency,
            idempotency_key=idempotency_key,
            subtotal=quote.subtotal,
            discount=quote.discount,
            balance_applied=quote.balance_applied,
            card_charged=quote.amount_due,
            balance_transfer=transfer,
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product_id=line.product_id,
                product_name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.total,
            )
            for line in quote.lines
        )
        if authorization is not None:
            Payment.objects.create(
                order=order,
                provider=payment_provider_get().name,
                reference=authorization.reference,
                card_last4=authorization.card_last4,
                amount=authorization.amount,
                currency=authorization.currency,
            )
        CartLine.objects.filter(cart__user=user).delete()
        # After commit only: capturing and e-mailing are outside calls that must neither
        # run for an order that rolled back nor hold the locks above while they wait.
        if authorization is not None:
            transaction.on_commit(lambda: _capture(authorization))
        transaction.on_commit(lambda: _order_confirmation_send(order.pk))
    return order


def _capture(authorization: Authorization) -> None:
    payment_provider_get().capture(authorization)


def _order_confirmation_send(order_id: int) -> None:
    order = (
        Order.objects.select_related("user", "region").prefetch_related("lines").get(pk=order_id)
    )
    locale = order.region.locale  # amounts as the shopper's store shows them (CONTRACT §3)
    context = {
        "order": order,
        "subtotal": format_money(order.subtotal, currency=order.currency, locale=locale),
        "balance": format_money(order.balance_applied, currency=order.currency, locale=locale),
        "card": format_money(order.card_charged, currency=order.currency, locale=locale),
        "total": format_money(order.total, currency=order.currency, locale=locale),
    }
    try:
        send_mail(
            subject=f"[Coinpurse] Your order {order.number}",
            message=render_to_string("checkout/email/order_confirmation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[order.user.email],
        )
    except Exception:
        # The order is committed and paid: a mail server's failure must not turn its page into
        # an error, but it must not pass unnoticed either.
        logger.exception("order %s: the confirmation e-mail was not sent", order.number)
