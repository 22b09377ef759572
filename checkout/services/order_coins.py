"""The coins part of an order (docs/points.md): spent when the order is written, given back
when its card capture fails. Both run in the caller's transaction, on the shopper's coins
account, after the wallet's money and credit accounts (the lock order of docs/ledger.md).
Refunds of coin-paid lines are checkout/services/refund_transfers.py's."""

from checkout.exceptions import CheckoutChanged
from checkout.models import Order
from checkout.pricing import Quote
from wallet.exceptions import InsufficientFunds
from wallet.services import coins_return, coins_spend
from wallet.units import coins_for_value


def order_coins_spend(*, user, quote: Quote, idempotency_key: str, number: str):
    """Spend the coins `quote` applies for order `number` (its `coins_spent`), keyed by the
    checkout form's key: a replay spends once. Returns the ledger's result, or None when
    coins pay nothing. Coins spent elsewhere meanwhile raise `CheckoutChanged` (the caller's
    transaction rolls back: nothing is charged)."""
    if not quote.coins_applied:
        return None
    try:
        return coins_spend(
            user=user,
            coins=quote.coins_spent,
            idempotency_key=f"order-coins:{idempotency_key}",
            description=f"Order {number}",
            reference=f"order:{number}",
        )
    except InsufficientFunds:
        raise CheckoutChanged(
            "Your coins changed while you were paying (another order?). Check the summary again."
        ) from None


def order_coins_payment_failed(*, order: Order):
    """Give back every coin the order spent: its card capture failed, so it never stood (no
    refund has run: refunds wait for a captured payment). Keyed per order: once however often
    this runs. None when coins paid nothing."""
    if not order.coins_applied:
        return None
    return coins_return(
        user=order.user,
        coins=coins_for_value(value=order.coins_applied, currency=order.currency),
        idempotency_key=f"order-coins-failed:{order.idempotency_key}",
        description=f"Order {order.number}: card payment failed, coins returned",
        reference=f"order:{order.number}",
    )
