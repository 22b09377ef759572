"""The ledger side of a refund: what goes back to the shopper's balance."""

from checkout.models import Order
from wallet.models import Account, Transfer
from wallet.services import (
    Leg,
    system_account_get_or_create,
    transfer_create,
    wallet_account_get_or_create,
    wallet_spend_return,
)


def refund_transfers_post(
    *, order: Order, from_balance: int, from_card: int, idempotency_key: str, by
):
    """What goes back to the balance: (the balance part's transfer, the card part's transfer
    when it is separate). An order paid without promotional credit moves everything in one
    refund transfer (the balance part from purchases, a card part staff send to the balance
    from card refunds), so the refund row points at the whole of its ledger movement. With
    credit, the balance part goes back through the wallet's spend return, credit to its lots
    with their old expiry, and a card part sent to the balance is a transfer of its own."""
    if not from_balance + from_card:
        return None, None
    account = wallet_account_get_or_create(user=order.user, currency=order.currency)
    description = f"Refund of order {order.number}"
    reference = f"order:{order.number}"
    if not order.credit_applied:
        sources = [(Account.Kind.PURCHASES, from_balance), (Account.Kind.CARD_REFUNDS, from_card)]
        legs = [Leg(account.pk, from_balance + from_card)] + [
            Leg(system_account_get_or_create(kind=kind, currency=order.currency).pk, -part)
            for kind, part in sources
            if part
        ]
        transfer = transfer_create(
            idempotency_key=f"refund:{idempotency_key}",
            kind=Transfer.Kind.REFUND,
            reference=reference,
            description=description,
            legs=legs,
            created_by=by,
        ).transfer
        return transfer, None
    transfer = card_transfer = None
    if from_balance:
        transfer = wallet_spend_return(
            transfer=order.balance_transfer,
            amount=from_balance,
            idempotency_key=f"refund:{idempotency_key}",
            description=description,
            reference=reference,
        ).transfer
    if from_card:
        card_refunds = system_account_get_or_create(
            kind=Account.Kind.CARD_REFUNDS, currency=order.currency
        )
        card_transfer = transfer_create(
            idempotency_key=f"refund-card:{idempotency_key}",
            kind=Transfer.Kind.REFUND,
            reference=reference,
            description=description,
            legs=[Leg(account.pk, from_card), Leg(card_refunds.pk, -from_card)],
            created_by=by,
        ).transfer
    return transfer, card_transfer
