"""Coins (docs/points.md): bought in packs by card, spent on digital items, returned by
refunds. Ledger units (`CNS`) on the shopper's `customer_coins` account against the shop's
`coins_sold` (where bought coins come from) and `coins_spent` (where spent ones go).

Each movement is one transfer through `transfer_create`, which locks the accounts and refuses
to take the shopper's coins below zero (`InsufficientFunds`). The keys are the caller's: one
movement per purchase, order or refund however often it is retried.
"""

from django.db import transaction

from wallet.models import Account, Transfer
from wallet.services.ledger import (
    Leg,
    TransferResult,
    system_account_get_or_create,
    transfer_create,
    unit_account_get_or_create,
)
from wallet.units import COINS


def _move(*, user, coins, shop_kind, to_shopper, kind, idempotency_key, description, reference):
    if coins <= 0:
        raise ValueError("a movement of coins moves at least one coin")
    # Its own transaction (a savepoint inside the caller's): a refusal leaves the caller's
    # transaction usable, so checkout can turn "not enough coins" into its own answer.
    with transaction.atomic():
        own = unit_account_get_or_create(user=user, kind=Account.Kind.CUSTOMER_COINS)
        shop = system_account_get_or_create(kind=shop_kind, currency=COINS)
        sign = 1 if to_shopper else -1
        return transfer_create(
            idempotency_key=idempotency_key,
            kind=kind,
            description=description,
            legs=[Leg(shop.pk, -sign * coins), Leg(own.pk, sign * coins)],
            reference=reference,
        )


def coins_credit(
    *, user, coins: int, idempotency_key: str, description: str, reference: str | None = None
) -> TransferResult:
    """A coin pack paid: `coins` (its coins and bonus) from `coins_sold` to the shopper."""
    return _move(
        user=user,
        coins=coins,
        shop_kind=Account.Kind.COINS_SOLD,
        to_shopper=True,
        kind=Transfer.Kind.COINS_PURCHASE,
        idempotency_key=idempotency_key,
        description=description,
        reference=reference,
    )


def coins_spend(
    *, user, coins: int, idempotency_key: str, description: str, reference: str | None = None
) -> TransferResult:
    """Coins paying for digital items: from the shopper to `coins_spent`. Raises
    `InsufficientFunds` when the shopper has fewer coins (nothing written)."""
    return _move(
        user=user,
        coins=coins,
        shop_kind=Account.Kind.COINS_SPENT,
        to_shopper=False,
        kind=Transfer.Kind.COINS_SPEND,
        idempotency_key=idempotency_key,
        description=description,
        reference=reference,
    )


def coins_return(
    *, user, coins: int, idempotency_key: str, description: str, reference: str | None = None
) -> TransferResult:
    """Coins given back (a refund of a line they paid, a card capture that failed): from
    `coins_spent` back to the shopper."""
    return _move(
        user=user,
        coins=coins,
        shop_kind=Account.Kind.COINS_SPENT,
        to_shopper=True,
        kind=Transfer.Kind.COINS_RETURN,
        idempotency_key=idempotency_key,
        description=description,
        reference=reference,
    )


def coins_take_back(
    *, user, coins: int, idempotency_key: str, description: str, reference: str | None = None
) -> TransferResult:
    """A refunded coin pack's coins taken back to `coins_sold`. Raises `InsufficientFunds`
    when the shopper already spent them (nothing written)."""
    return _move(
        user=user,
        coins=coins,
        shop_kind=Account.Kind.COINS_SOLD,
        to_shopper=False,
        kind=Transfer.Kind.COINS_REVERSAL,
        idempotency_key=idempotency_key,
        description=description,
        reference=reference,
    )
