"""Every write of checkout: the cart, placing an order, refunds.

Global lock order — every service that takes more than one lock takes them in this order,
so two of them can never wait on each other:

    1. cart (or the order being refunded)   checkout/locks.py
    2. promotion usage                      promotions/locks.py (a later issue)
    3. gift cards                           wallet/locks.py
    4. wallet accounts, in primary-key order wallet/locks.py

No card call is made while a lock is held: the card is authorised before the transaction and
captured (or voided) after it.
"""

import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from catalog.models import Product
from catalog.money import format_money
from catalog.selectors import products_by_slug, shopper_region
from checkout.exceptions import (
    CardRequired,
    CheckoutChanged,
    EmptyCart,
    InvalidQuantity,
    ProductUnavailable,
    RefundRefused,
)
from checkout.locks import cart_qs_select_for_update, order_qs_select_for_update
from checkout.models import MAX_QUANTITY, Cart, CartLine, Order, OrderLine, Payment, Refund
from checkout.payments import Authorization, payment_provider_get
from checkout.selectors import (
    SESSION_CART,
    SESSION_USE_BALANCE,
    checkout_quote_get,
)
from wallet.exceptions import InsufficientFunds
from wallet.models import Account, Transfer
from wallet.services import (
    Leg,
    system_account_get_or_create,
    transfer_create,
    wallet_account_get_or_create,
    wallet_debit,
)

logger = logging.getLogger(__name__)
ORDER_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Holds voided after a failed attempt, remembered (shared cache) for longer than a card hold
# lives, so a retry with the same key never builds an order on one (see `order_place`).
_VOIDED_HOLD = "checkout:voided-hold:"
_VOIDED_HOLD_MEMORY = 8 * 24 * 60 * 60


# -- Cart -------------------------------------------------------------------------------------


def _product_for_sale(*, slug: str, user) -> Product:
    region = shopper_region(user)
    product = products_by_slug(slugs=[slug], region_code=region.code).get(slug)
    if product is None:
        raise ProductUnavailable("That product does not exist or is no longer sold.")
    if product.price is None:
        raise ProductUnavailable(
            f"{product.name} is not sold in the {region.name} store, so it cannot be added."
        )
    if product.kind == Product.Kind.GIFT_CARD:
        # Buying and sending gift cards is a later issue; until then nothing would be delivered.
        raise ProductUnavailable("Gift cards cannot be bought yet: that comes in a later release.")
    return product


def _check_quantity(quantity: int, *, allow_zero: bool) -> None:
    low = 0 if allow_zero else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(f"Choose a quantity from {low} to {MAX_QUANTITY}.")


def cart_add(*, user, session, slug: str, quantity: int) -> int:
    """Add `quantity` of a product to the cart (the session's for a visitor); returns the new
    quantity of that line. Raises `ProductUnavailable` for a product not sold in the shopper's
    region and `InvalidQuantity` outside 1-99 (in total for the line)."""
    _check_quantity(quantity, allow_zero=False)
    product = _product_for_sale(slug=slug, user=user)
    if not user.is_authenticated:
        cart = dict(session.get(SESSION_CART, {}))
        new = cart.get(slug, 0) + quantity
        _check_quantity(new, allow_zero=False)
        cart[slug] = new
        session[SESSION_CART] = cart
        return new
    with transaction.atomic():
        cart, _ = Cart.objects.get_or_create(user=user)
        cart_qs_select_for_update(user_id=user.pk).get()
        line = CartLine.objects.filter(cart=cart, product=product).first()
        new = (line.quantity if line else 0) + quantity
        _check_quantity(new, allow_zero=False)
        CartLine.objects.update_or_create(cart=cart, product=product, defaults={"quantity": new})
    return new


def cart_update(*, user, session, slug: str, quantity: int) -> None:
    """Set a line's quantity; 0 removes it. Raises `InvalidQuantity` outside 0-99."""
    _check_quantity(quantity, allow_zero=True)
    if not user.is_authenticated:
        cart = dict(session.get(SESSION_CART, {}))
        if quantity == 0:
            cart.pop(slug, None)
        elif slug in cart:
            cart[slug] = quantity
        session[SESSION_CART] = cart
        return
    with transaction.atomic():
        if cart_qs_select_for_update(user_id=user.pk).first() is None:
            return
        lines = CartLine.objects.filter(cart__user=user, product__slug=slug)
        if quantity == 0:
            lines.delete()
        else:
            lines.update(quantity=quantity)


def cart_merge_on_login(sender, request, user, **kwargs):
    """`user_logged_in` receiver: move the visitor's session cart into the saved cart.

    Lines of products not sold in the shopper's region are dropped; quantities add up to 99.
    """
    session = getattr(request, "session", None)
    wanted = session.get(SESSION_CART) if session is not None else None
    if not wanted:
        return
    for slug, quantity in wanted.items():
        try:
            line_quantity = min(quantity, MAX_QUANTITY)
            current = CartLine.objects.filter(cart__user=user, product__slug=slug).first()
            room = MAX_QUANTITY - (current.quantity if current else 0)
            if room > 0:
                cart_add(user=user, session=session, slug=slug, quantity=min(line_quantity, room))
        except (ProductUnavailable, InvalidQuantity):
            continue
    session.pop(SESSION_CART, None)


def checkout_use_balance_set(*, session, use_balance: bool) -> None:
    """The shopper's switch: pay from the balance first (the default) or not at all."""
    session[SESSION_USE_BALANCE] = use_balance


# -- Orders ----------------------------------------------------------------------------------


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


# -- Refunds ---------------------------------------------------------------------------------


def order_refund(
    *,
    order_id: int,
    from_balance: int,
    from_card: int,
    card_to_balance: bool,
    reason: str,
    idempotency_key: str,
    by,
) -> Refund:
    """Refund part or all of an order, per source, never above what that source paid.

    The part paid from the balance goes back to the balance (a refund transfer); the card
    part goes back to the card through the provider (after commit), or to the balance when
    staff choose. The order row is locked first, so two staff refunding at once queue and the
    second sees the first's refund; database constraints stand behind the limits. Idempotent
    on `idempotency_key`. Raises `RefundRefused`.
    """
    if by is None or not by.has_perm("checkout.refund_order"):
        raise RefundRefused("You need the permission to refund orders.")
    if from_balance < 0 or from_card < 0 or from_balance + from_card == 0:
        raise RefundRefused("Refund a positive amount.")
    if not reason.strip():
        raise RefundRefused("Say why the order is refunded.")
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            order = order_qs_select_for_update(order_id=order_id).select_related("user").get()
            # Again under the lock: a concurrent submit of this same refund may have committed
            # while we waited, and its replay must get that refund, not "more than is left".
            existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
            if from_balance > order.balance_applied - order.balance_refunded:
                raise RefundRefused("That is more than is left to refund to the balance.")
            if from_card > order.card_charged - order.card_refunded:
                raise RefundRefused("That is more than is left to refund to the card.")
            to_balance = from_balance + (from_card if card_to_balance else 0)
            # Everything that goes back to the balance moves in one refund transfer (the
            # balance part from purchases, a card part staff send to the balance from card
            # refunds), so the refund row points at the whole of its ledger movement.
            transfer = None
            if to_balance:
                legs = [
                    Leg(
                        wallet_account_get_or_create(user=order.user, currency=order.currency).pk,
                        to_balance,
                    )
                ]
                sources = [(Account.Kind.PURCHASES, from_balance)]
                if card_to_balance:
                    sources.append((Account.Kind.CARD_REFUNDS, from_card))
                legs += [
                    Leg(system_account_get_or_create(kind=kind, currency=order.currency).pk, -part)
                    for kind, part in sources
                    if part
                ]
                transfer = transfer_create(
                    idempotency_key=f"refund:{idempotency_key}",
                    kind=Transfer.Kind.REFUND,
                    description=f"Refund of order {order.number}",
                    legs=legs,
                    created_by=by,
                ).transfer
            order.balance_refunded += from_balance
            order.card_refunded += from_card
            order.status = (
                Order.Status.REFUNDED
                if order.refunded == order.total
                else Order.Status.PARTLY_REFUNDED
            )
            order.save(update_fields=["balance_refunded", "card_refunded", "status"])
            refund = Refund.objects.create(
                order=order,
                from_balance=from_balance,
                from_card=from_card,
                card_destination=Refund.Destination.BALANCE
                if card_to_balance
                else Refund.Destination.CARD,
                reason=reason.strip()[:200],
                created_by=by,
                transfer=transfer,
                idempotency_key=idempotency_key,
            )
            if from_card and not card_to_balance:
                transaction.on_commit(lambda: _card_refund(refund.pk))
            logger.info("order %s refunded: %s to balance", order.number, to_balance)
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return refund


def _card_refund(refund_id: int) -> None:
    """After commit: send the card part back through the provider and record its answer.

    A provider failure must not undo a refund that is already on the order; it is logged and
    the refund keeps an empty `provider_reference`, which staff see in the admin and can retry
    at the provider (same idempotency key, so never twice).
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
        return
    Refund.objects.filter(pk=refund.pk).update(provider_reference=reference)
    refunded = refund.order.card_refunded
    Payment.objects.filter(pk=payment.pk).update(
        status=Payment.Status.REFUNDED
        if refunded >= payment.amount
        else Payment.Status.PARTLY_REFUNDED
    )
