"""Reads of the wallet, scoped to their owner. No writes, no locks."""

from dataclasses import dataclass

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from wallet.models import Account, Posting, Transfer


@dataclass(frozen=True)
class Balance:
    amount: int
    currency: str


def wallet_balance_get(*, user) -> Balance:
    """The shopper's balance in their region's currency (zero before their first movement).

    One query: the account is joined to the user's region to pick the currency.
    """
    row = (
        Account.objects.filter(
            user=user, kind=Account.Kind.CUSTOMER, currency=F("user__region__currency")
        )
        .values_list("balance", "currency")
        .first()
    )
    if row is None:
        return Balance(amount=0, currency=user.region.currency)
    return Balance(amount=row[0], currency=row[1])


def wallet_activity_list(*, user):
    """The movements of the shopper's balance, newest first, each with its transfer."""
    return (
        Posting.objects.filter(
            account__user=user,
            account__kind=Account.Kind.CUSTOMER,
            account__currency=user.region.currency,
        )
        .select_related("transfer")
        .order_by("-id")
    )


def posting_get_for_user(*, user, posting_id: int) -> Posting:
    """One of the shopper's own activity rows; anyone else's answers 404."""
    return get_object_or_404(
        Posting.objects.select_related("account"),
        pk=posting_id,
        account__user=user,
        account__kind=Account.Kind.CUSTOMER,
    )


@dataclass(frozen=True)
class ReconcileReport:
    accounts_checked: int
    transfers_checked: int
    balance_mismatches: list[tuple[int, str, int, int]]  # account id, label, cached, ledger
    unbalanced_transfers: list[tuple[int, str, int]]  # transfer id, currency, sum
    balance_after_mismatches: list[tuple[int, int]]  # account id, balance after its last posting

    @property
    def clean(self) -> bool:
        return not (
            self.balance_mismatches or self.unbalanced_transfers or self.balance_after_mismatches
        )


def ledger_reconcile() -> ReconcileReport:
    """Prove the ledger: every cached balance equals the sum of its postings, every transfer
    sums to zero per currency, and each account's latest posting carries its balance.

    Each check is a single aggregate query, so each sees one consistent snapshot even while
    money keeps moving; the number of queries does not grow with the ledger.
    """
    latest_posting = Posting.objects.filter(account=OuterRef("pk")).order_by("-id")
    accounts = (
        Account.objects.select_related("user")
        .annotate(
            ledger=Coalesce(Sum("postings__amount"), 0),
        )
        .order_by("pk")
    )
    last_after = dict(
        Account.objects.annotate(last_after=Subquery(latest_posting.values("balance_after")[:1]))
        .exclude(last_after=None)
        .exclude(last_after=F("balance"))
        .values_list("pk", "last_after")
    )
    balance_mismatches = []
    accounts_checked = 0
    for account in accounts:
        accounts_checked += 1
        if account.ledger != account.balance:
            balance_mismatches.append((account.pk, str(account), account.balance, account.ledger))
    unbalanced = list(
        Posting.objects.values("transfer_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .values_list("transfer_id", "currency", "total")
    )
    return ReconcileReport(
        accounts_checked=accounts_checked,
        transfers_checked=Transfer.objects.count(),
        balance_mismatches=balance_mismatches,
        unbalanced_transfers=unbalanced,
        balance_after_mismatches=sorted(last_after.items()),
    )
