"""Taking promotional credit back: what is left of one lot goes back where it came from, when
what earned it no longer stands (a gift card bonus whose gift cards were refunded:
docs/promotions.md, "Gift card bonus"). A module of its own beside `credit`, which stays the
home of grants, spends, returns and expiry.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum

from wallet.exceptions import WalletError
from wallet.locks import creditlot_qs_select_for_update_by_pk
from wallet.models import Account, CreditLotSpend, Transfer
from wallet.services.credit import credit_account_get_or_create
from wallet.services.ledger import Leg, system_account_get_or_create, transfer_create


@dataclass(frozen=True)
class CreditRevoked:
    """What a revoke found in the lot: `taken_back` went back to `credit_issued`; `spent` is
    what orders still hold of it (paid with it and not refunded), which cannot come back."""

    taken_back: int
    spent: int
    transfer: Transfer | None = None


def wallet_credit_revoke(
    *, lot_id: int, idempotency_key: str, description: str, reference: str | None = None
) -> CreditRevoked:
    """Take back what is left of credit lot `lot_id`: one `reversal` transfer from the
    shopper's `customer_credit` account to `credit_issued` (the grant's own way back), the
    lot emptied in the same transaction, so the credit account still equals its lots.

    Locks the lot first (a spend of it and a return to it queue there: docs/ledger.md, credit
    lots before wallet accounts), then reads what orders still hold of it (their spends less
    what was given back) under that lock. Runs in the caller's transaction. Idempotent on
    `idempotency_key`: a replay finds the lot empty and its transfer, and answers the same.
    A lot whose last day is over but that expiry has not emptied yet is taken back too (it
    could not be spent any more; breakage would have taken it). Raises `WalletError` for a
    lot that does not exist; nothing is written then.
    """
    with transaction.atomic(savepoint=False):
        lot = creditlot_qs_select_for_update_by_pk(lot_ids=[lot_id]).first()
        if lot is None:
            raise WalletError(f"no credit lot #{lot_id}")
        spent = (
            CreditLotSpend.objects.filter(lot=lot).aggregate(held=Sum(F("amount") - F("returned")))[
                "held"
            ]
            or 0
        )
        existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            back = sum(p.amount for p in existing.postings.all() if p.amount > 0)
            return CreditRevoked(taken_back=back, spent=spent, transfer=existing)
        if lot.remaining == 0:
            return CreditRevoked(taken_back=0, spent=spent)
        account = credit_account_get_or_create(user_id=lot.user_id, currency=lot.currency)
        issued = system_account_get_or_create(
            kind=Account.Kind.CREDIT_ISSUED, currency=lot.currency
        )
        taken = lot.remaining
        result = transfer_create(
            idempotency_key=idempotency_key,
            kind=Transfer.Kind.REVERSAL,
            description=description[:200],
            legs=[Leg(account.pk, -taken), Leg(issued.pk, taken)],
            reference=reference,
        )
        lot.remaining = 0
        lot.save(update_fields=["remaining"])
    return CreditRevoked(taken_back=taken, spent=spent, transfer=result.transfer)
