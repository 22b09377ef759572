"""Placing an order: the card authorised outside any lock, the balance and the coins debited
and the order written in one transaction (locks in the global order of docs/ledger.md), the
card captured after commit (`card_payments`).
"""

import logging
import secrets

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from catalog.money import format_money
from checkout.baskets import Basket
from checkout.emails import order_placed_mail_send
from checkout.exceptions import (
    AddressRequired,
    CardRequired,
    CheckoutChanged,
    CheckoutError,
    EmptyCart,
    PaymentDeclined,
    ProductUnavailable,
)
from checkout.models import CartGiftCard, CartLine, Order, OrderLine, Payment, VoidedAuthorization
from checkout.payments import payment_provider_get
from checkout.pricing_coins import balance_payable_by_category
from checkout.selectors import (
    SESSION_ADDRESS,
    checkout_addresses_get,
    checkout_quote_get,
)
from checkout.services.card_payments import hold_is_voided, hold_void, payment_capture
from checkout.services.cart import cart_lock_for_order
from checkout.services.giftcard_orders import order_gift_cards_write
from checkout.services.order_checks import (
    PROMOTION_CHANGED,
    paying_changed,
    promotion_changed,
)
from checkout.services.order_coins import order_coins_spend
from checkout.services.order_points import order_points_earn
from checkout.services.order_promotions import order_promotions_claim, promotion_keys
from checkout.services.order_shipping import order_shipping_fields
from checkout.services.paid import order_paid_work
from checkout.services.reloads import auto_reload_after_purchase
from wallet.exceptions import InsufficientFunds
from wallet.services import wallet_spend

logger = logging.getLogger(__name__)

ORDER_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _order_number() -> str:
    return "CP-" + "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(8))


# The card number must not reach an error report (debug page, error e-mail).
@sensitive_variables("card_number")
def order_place(
    *,
    user,
    session,
    idempotency_key: str,
    card_number: str = "",
    expected_total: int | None = None,
    expected_amount_due: int | None = None,
    expected_balance: int | None = None,
    expected_coins: int | None = None,
    basket: Basket | None = None,
) -> Order:
    """Turn the shopper's cart into an order, exactly once per `idempotency_key`.

    The card part is authorised before any lock is taken; then, in one transaction, the cart
    is locked, priced again, the balance part is debited through the wallet ledger (which
    locks the wallet account and refuses to overdraw), and the order is written with its
    payment `authorized` and the cart emptied. The card is captured after commit, or voided
    if anything failed — so a declined card, a provider that fails or does not answer, a
    changed cart or a balance spent in another tab leave everything as it was. When the
    capture itself fails the order comes back `payment_failed`, its balance part returned
    (`card_payments.order_payment_fail`); the order returned shows that outcome.
    A replay of the key (double click, second tab, replayed POST) returns the first order.

    Promotions: under the cart lock the quote is priced again and every promotion it applies
    is claimed under the promotion-usage locks (`order_promotions_claim`, in the global lock
    order: cart → promotion usage → credit lots → wallet accounts); one that no longer
    applies (limit reached, budget spent, code used in another tab, disabled) refuses the
    order `changed` and nothing is charged. A budget that can pay only part of a use trims
    it: when the shopper agreed to figures that is `changed` too; a call without them (no
    expected figures) pays the difference from the balance, never more on the card than was
    authorised. The balance part is paid credit first (soonest-expiring), then gift card
    money (`wallet_spend`); each line stores the discount of each unit.
    `expected_total`, `expected_amount_due`, `expected_balance` and `expected_coins` are what
    the summary showed the shopper (its total, card, balance and coins parts); when
    given and the cart or balance no longer match them, nothing is charged (`CheckoutChanged`).
    A code of the session the engine refuses: with figures the shopper saw its refusal beside
    the code box and agreed to the total without it, so the order goes on; without figures
    nobody saw it, and a promotion that no longer applies refuses the order (`changed`).
    Raises `EmptyCart`, `ProductUnavailable`, `CardRequired`, `PaymentDeclined`,
    `CheckoutChanged`.

    Gift cards bought (docs/interface.md §12) are lines of their own, paid by the card
    whatever the balance holds: a cart with gift cards always needs a card (`CardRequired`,
    `card_required`). Each becomes an `OrderLine` with an `OrderGiftCard` beside it,
    `awaiting_payment` until the capture issues the card (`order_paid`).

    Coins (docs/points.md) pay the digital lines first unless switched off: spent after the
    balance part (`order_coins_spend`), each line storing its share. Coin packs, like gift
    cards, are paid by card only (`CardRequired`).

    With a `basket` (checkout/baskets.py: a Subscribe & Save delivery) the order is placed from
    its lines instead of the cart, which stays as it was; the basket's saved card token pays
    what the balance does not (`CardRequired` without one), and its `lock` and `written` hooks
    run inside the order's transaction.
    """
    existing = Order.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _order_replayed(existing, user)
    try:
        return _order_place(
            user=user,
            session=session,
            idempotency_key=idempotency_key,
            card_number=card_number,
            figures=(expected_total, expected_amount_due, expected_balance, expected_coins),
            basket=basket,
        )
    except CheckoutError:
        # A concurrent submit of this same key (a double click, a second tab) may have
        # committed its order while this one read the cart, then the balance: a refusal
        # judged on that half-changed state ("empty", "enter a card", "changed") is the
        # replay of that order instead.
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _order_replayed(existing, user)


def _order_place(*, user, session, idempotency_key: str, card_number: str, figures, basket):
    expected_total, expected_amount_due, expected_balance, expected_coins = figures
    if basket is not None:
        session = {SESSION_ADDRESS: basket.address_id}
    quote = checkout_quote_get(user=user, session=session, basket=basket)
    if quote.is_empty:
        raise EmptyCart("Your cart is empty.")
    if quote.unavailable:
        names = ", ".join(line.name for line in quote.unavailable)
        raise ProductUnavailable(f"Not sold in your region: {names}. Remove it to continue.")
    address = None
    if quote.needs_shipping:
        _, address = checkout_addresses_get(user=user, session=session)
        if address is None:
            raise AddressRequired("Add the address we should send your order to.")
    agreed = expected_total is not None or expected_amount_due is not None
    if not agreed and quote.refusals:
        raise CheckoutChanged(promotion_changed(quote.refusals))
    # The shopper agreed to the figures of the summary they saw; another tab may have changed
    # the cart or the balance since, and then they must see the new figures before paying.
    # The split too: a switch turned in another tab may move a part from coins to the
    # balance (or back) and leave the card part as it was.
    shown = (
        (expected_total, quote.total),
        (expected_amount_due, quote.amount_due),
        (expected_balance, quote.balance_applied),
        (expected_coins, quote.coins_applied),
    )
    if any(expected is not None and expected != now for expected, now in shown):
        raise CheckoutChanged(
            "Your cart or balance changed since this summary was shown. Nothing was charged: "
            "check the summary again."
        )

    authorization = None
    if quote.amount_due > 0:
        if not card_number.strip() and quote.gift_cards:
            gift_part = format_money(quote.gift_card_total, currency=quote.currency)
            raise CardRequired(
                f"Gift cards are paid by card, never from the balance: enter a card number to "
                f"pay {gift_part} of gift cards."
            )
        if not card_number.strip() and quote.coin_packs:
            pack_part = format_money(quote.coin_pack_total, currency=quote.currency)
            raise CardRequired(
                f"Coin packs are paid by card, never from the balance, promotional credit or "
                f"coins: enter a card number to pay {pack_part} of coin packs."
            )
        card_token = basket.card_token if basket is not None else ""
        if not card_number.strip() and not card_token:
            raise CardRequired("Enter a card number to pay the rest.")
        try:
            authorization = payment_provider_get().authorize(
                amount=quote.amount_due,
                currency=quote.currency,
                card_number=card_number,
                card_token=card_token,
                idempotency_key=f"order:{idempotency_key}",
            )
        except CheckoutError:
            raise
        except Exception:
            # The provider failed or timed out: no order, no debit. The error is logged
            # without the card number (only the provider's own words).
            logger.exception("checkout: the card provider failed to authorise a payment")
            raise PaymentDeclined(
                "The card payment service did not answer. Nothing was charged: please try "
                "again in a moment.",
                reason="payment_unavailable",
            ) from None
    released = False
    try:
        # A provider replays a key's first result: after an attempt with this key failed and
        # released its hold, a retry (the stale form posted again) gets that dead hold back,
        # and capturing it would leave the order unpaid. The shopper starts again with a new
        # form. The record is in the database: a shared cache that is down must not decide.
        if authorization is not None and hold_is_voided(reference=authorization.reference):
            released = True
            # Unless this key's order exists (its capture failed and released the hold): a
            # replay of the form lands on that order, as any replay does.
            existing = Order.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _order_replayed(existing, user)
            raise CheckoutChanged("This checkout form is no longer valid. Please start again.")
        order = _order_write(
            user=user,
            session=session,
            idempotency_key=idempotency_key,
            quote=quote,
            address=address,
            authorization=authorization,
            agreed=agreed,
            basket=basket,
        )
    except Exception:
        # Nothing was written (the transaction rolled back) unless a concurrent request with
        # the same key wrote the order — then this hold is that order's, so keep it.
        if (
            authorization is not None
            and not released
            and not Order.objects.filter(idempotency_key=idempotency_key).exists()
        ):
            hold_void(authorization=authorization, reason=VoidedAuthorization.Reason.NOT_WRITTEN)
        raise
    if authorization is not None:
        # Outside a transaction the capture ran on commit, inside `_order_write`: the caller
        # gets the order as that capture left it (paid, or payment_failed).
        order.refresh_from_db(fields=["status", "balance_return_transfer"])
    return order


def _order_replayed(order: Order, user) -> Order:
    if order.user_id != user.pk:
        raise CheckoutChanged("This checkout form is no longer valid. Please start again.")
    return order


def _order_write(
    *, user, session, idempotency_key, quote, address, authorization, agreed, basket
) -> Order:
    with transaction.atomic():
        # 1. The cart: concurrent orders of one shopper queue here (and so do their uses of
        # a promotion: the shopper's own limit is counted under this lock).
        if not cart_lock_for_order(user=user, basket=basket):
            raise EmptyCart("Your cart is empty.")
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _order_replayed(existing, user)
        # 1b. The subscription a delivery comes from: still to be delivered (not paused,
        # skipped or cancelled since the run read it)? Raises if not: nothing is written.
        if basket is not None and basket.lock is not None:
            basket.lock()
        fresh = checkout_quote_get(user=user, session=session, basket=basket)
        if (fresh.lines, fresh.gift_cards, fresh.shipping_line) != (
            quote.lines,
            quote.gift_cards,
            quote.shipping_line,
        ):
            raise CheckoutChanged(
                "Your cart or balance changed while you were paying. Check the summary again."
            )
        # Same cart, other promotions (one expired, was disabled, reached its limit): the
        # shopper is told it is a promotion, not their cart, that changed.
        if promotion_keys(fresh) != promotion_keys(quote) or (
            not agreed and fresh.refusals and not quote.refusals
        ):
            raise CheckoutChanged(promotion_changed(fresh.refusals))
        if paying_changed(fresh, quote, agreed=agreed):
            # Same promotions, another total: a budget was trimmed meanwhile.
            if fresh.total != quote.total:
                raise CheckoutChanged(promotion_changed(()))
            raise CheckoutChanged(
                "Your cart or balance changed while you were paying. Check the summary again."
            )
        number = _order_number()
        # 2. Promotion usage: every limit judged under its lock; a use a budget could pay
        # only in part is trimmed (`claimed.discount` is what the promotions really give).
        try:
            claimed = order_promotions_claim(user=user, order_number=number, quote=fresh)
        except CheckoutChanged as gone:  # used elsewhere, limit reached under the lock
            why = str(gone).split(" Nothing was charged")[0].rstrip(".")
            raise CheckoutChanged(PROMOTION_CHANGED.format(why=f": {why}")) from None
        total = fresh.subtotal + fresh.shipping - claimed.discount
        # The card was authorised for the summary's card part and is never charged more: a
        # trimmed discount is paid from the balance, and only when the shopper agreed to no
        # figures (a service call; the page always sends them, and then it is `changed`).
        # Coins pay what the summary said (`paying_changed` holds them equal).
        coins_part = fresh.coins_applied
        balance_part = total - quote.amount_due - coins_part
        if total != quote.total and (
            agreed or balance_part < 0 or (balance_part and not fresh.use_balance)
        ):
            raise CheckoutChanged(promotion_changed(()))
        # 3. Credit lots, then the wallet accounts (inside wallet_spend): credit first,
        # soonest-expiring, then gift card money, checked under their locks.
        spend = None
        if balance_part:
            try:
                spend = wallet_spend(
                    user=user,
                    amount=balance_part,
                    # Never what coins paid or a coin pack (card only), category by category.
                    payable_by_category=balance_payable_by_category(
                        lines=fresh.lines,
                        payable=claimed.payable_by_category(fresh),
                        line_coins=fresh.line_coins,
                    ),
                    idempotency_key=f"order:{idempotency_key}",
                    description=f"Order {number}",
                    reference=f"order:{number}",
                )
            except InsufficientFunds:
                raise CheckoutChanged(
                    "Your balance changed while you were paying (another order?). "
                    "Check the summary again."
                ) from None
        # 4. The coins account (after the wallet's: the lock order of docs/ledger.md).
        coins = order_coins_spend(
            user=user, quote=fresh, idempotency_key=idempotency_key, number=number
        )
        order = Order.objects.create(
            number=number,
            user=user,
            region=user.region,
            currency=quote.currency,
            idempotency_key=idempotency_key,
            subtotal=fresh.subtotal,
            shipping=fresh.shipping,
            discount=claimed.discount,
            balance_applied=balance_part,
            credit_applied=spend.credit if spend else 0,
            card_charged=quote.amount_due,
            balance_transfer=spend.transfer if spend else None,
            coins_applied=coins_part,
            coins_transfer=coins.transfer if coins else None,
            promotions=claimed.snapshot,
            **order_shipping_fields(quote=quote, address=address),
        )
        lines = OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product_id=line.product_id,
                product_name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                list_price=line.list_price,
                line_total=line.total,
                discount=sum(claimed.units[line.product_id]),
                unit_discounts=claimed.units[line.product_id],
                is_digital=line.digital,
                coins=fresh.line_coins.get(line.product_id, 0),
                pack_coins=line.pack_coins * line.quantity if line.coin_pack else 0,
            )
            for line in fresh.lines
        )
        order_gift_cards_write(order=order, quote=fresh)
        if authorization is not None:
            Payment.objects.create(
                order=order,
                provider=payment_provider_get().name,
                reference=authorization.reference,
                card_last4=authorization.card_last4,
                amount=authorization.amount,
                currency=authorization.currency,
            )
        if basket is None:
            CartLine.objects.filter(cart__user=user).delete()
            if fresh.gift_cards:  # every gift card row of the cart, read under its lock
                CartGiftCard.objects.filter(cart__user=user).delete()
        elif basket.written is not None:
            basket.written(order=order, lines=lines)
        # After commit only: capturing and e-mailing are outside calls that must neither
        # run for an order that rolled back nor hold the locks above while they wait. Both
        # catch their own errors (and `robust` stands behind that): the order is committed,
        # and a provider or mail server failing must not turn the shopper's page into a 500.
        if authorization is not None:
            # What waits for the capture is known now: no step after it locks the order only
            # to find it has nothing to do (checkout/services/paid.py).
            work = order_paid_work(order=order, quote=fresh)
            transaction.on_commit(
                lambda: payment_capture(order_id=order.pk, authorization=authorization, work=work),
                robust=True,
            )
        transaction.on_commit(lambda: order_placed_mail_send(order_id=order.pk), robust=True)
        if authorization is None and order.delivered_at is not None:
            # Delivered when placed, nothing to capture (balance or coins only): it earns now.
            transaction.on_commit(lambda: order_points_earn(order_id=order.pk), robust=True)
        # A purchase that left the balance below the shopper's auto-reload threshold reloads
        # it, once per order (a background job keyed by the order, enqueued on commit).
        if balance_part:
            transaction.on_commit(
                lambda: auto_reload_after_purchase(
                    order_id=order.pk, user=user, currency=quote.currency
                ),
                robust=True,
            )
    return order
