"""Promotional credit test data, made through the real services, and what a refusal must
leave untouched."""

import datetime
import itertools

from catalog.models import Region
from catalog.regions import region_today
from tests.wallet.ledger_state import ledger_state
from wallet.models import CreditLot, CreditLotSpend, WalletSpend
from wallet.services import wallet_credit, wallet_credit_grant

_keys = itertools.count(1)


def days_from_today(user, days: int) -> datetime.date:
    """The shopper's region's today plus `days`."""
    return region_today(Region.objects.get(code=user.region_id)) + datetime.timedelta(days=days)


def grant(user, amount: int, *, days: int = 30, categories=(), key: str | None = None):
    """Grant `amount` of credit to `user`, last day `days` from their region's today."""
    return wallet_credit_grant(
        user=user,
        amount=amount,
        currency=Region.objects.get(code=user.region_id).currency,
        expires_on=days_from_today(user, days),
        idempotency_key=key or f"test-grant:{next(_keys)}",
        description="Promotional credit: TEST",
        reference="promotion:test",
        category_ids=categories,
    )


def fund(user, amount: int) -> None:
    """Gift card money on `user`'s balance (through `wallet_credit`)."""
    wallet_credit(
        user=user, amount=amount, idempotency_key=f"test-fund:{next(_keys)}", description="fund"
    )


def credit_state():
    """The ledger's state and every lot and spend record: equal before and after a refusal."""
    return (
        ledger_state(),
        list(CreditLot.objects.order_by("pk").values_list("pk", "remaining")),
        list(WalletSpend.objects.order_by("pk").values_list("pk", "returned")),
        list(CreditLotSpend.objects.order_by("pk").values_list("pk", "returned")),
    )
