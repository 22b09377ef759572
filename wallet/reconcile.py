"""`wallet_reconcile`'s proof of the ledger (docs/ledger.md): every cached balance against its
postings, every transfer against zero, each credit account against its lots, each pending
points account against its earnings. A read: no
writes, no locks."""

from dataclasses import dataclass

from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from wallet.models import CUSTOMER_KINDS, Account, CreditLot, PointsEarning, Posting, Transfer


@dataclass(frozen=True)
class ReconcileReport:
    accounts_checked: int
    transfers_checked: int
    # account id, label, cached, ledger (a shop account's cached figure must be 0: its
    # balance is its postings' sum, never cached)
    balance_mismatches: list[tuple[int, str, int, int]]
    unbalanced_transfers: list[tuple[int, str, int]]  # transfer id, currency, sum
    balance_after_mismatches: list[tuple[int, int]]  # account id, balance after its last posting
    # credit account id, its balance, the sum of its lots' remaining
    credit_lot_mismatches: list[tuple[int, int, int]] = ()
    # pending points account id, its balance, the points its unreleased earnings keep
    pending_points_mismatches: list[tuple[int, int, int]] = ()

    @property
    def clean(self) -> bool:
        return not (
            self.balance_mismatches
            or self.unbalanced_transfers
            or self.balance_after_mismatches
            or self.credit_lot_mismatches
            or self.pending_points_mismatches
        )


def ledger_reconcile() -> ReconcileReport:
    """Prove the ledger: every shopper account's cached balance equals the sum of its postings
    and no shop account caches one (a shop balance is derived: the sum of its postings, so with
    every transfer summing to zero per currency the shop's balances are exactly minus the
    shoppers'), each shopper account's latest posting carries its balance, and each
    promotional-credit account holds exactly what its lots have left (expired or not), and
    each shopper's pending points are exactly what their unreleased earnings keep.

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
        Account.objects.filter(kind__in=CUSTOMER_KINDS)
        .annotate(last_after=Subquery(latest_posting.values("balance_after")[:1]))
        .exclude(last_after=None)
        .exclude(last_after=F("balance"))
        .values_list("pk", "last_after")
    )
    balance_mismatches = []
    accounts_checked = 0
    for account in accounts:
        accounts_checked += 1
        expected = account.ledger if account.kind in CUSTOMER_KINDS else 0
        if account.balance != expected:
            balance_mismatches.append((account.pk, str(account), account.balance, expected))
    unbalanced = list(
        Posting.objects.values("transfer_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .values_list("transfer_id", "currency", "total")
    )
    lots_left = (
        CreditLot.objects.filter(user=OuterRef("user_id"), currency=OuterRef("currency"))
        .order_by()
        .values("user_id")
        .annotate(left=Sum("remaining"))
        .values("left")
    )
    credit_lot_mismatches = list(
        Account.objects.filter(kind=Account.Kind.CUSTOMER_CREDIT)
        .annotate(lots=Coalesce(Subquery(lots_left), 0))
        .exclude(lots=F("balance"))
        .order_by("pk")
        .values_list("pk", "balance", "lots")
    )
    earnings_kept = (
        PointsEarning.objects.filter(user=OuterRef("user_id"), released_at__isnull=True)
        .order_by()
        .values("user_id")
        .annotate(kept=Sum(F("points") - F("reversed")))
        .values("kept")
    )
    pending_points_mismatches = list(
        Account.objects.filter(kind=Account.Kind.CUSTOMER_POINTS_PENDING)
        .annotate(kept=Coalesce(Subquery(earnings_kept), 0))
        .exclude(kept=F("balance"))
        .order_by("pk")
        .values_list("pk", "balance", "kept")
    )
    return ReconcileReport(
        accounts_checked=accounts_checked,
        transfers_checked=Transfer.objects.count(),
        balance_mismatches=balance_mismatches,
        unbalanced_transfers=unbalanced,
        balance_after_mismatches=sorted(last_after.items()),
        credit_lot_mismatches=credit_lot_mismatches,
        pending_points_mismatches=pending_points_mismatches,
    )
