"""The balances of the shop's own (system) accounts, which are derived, not cached.

A shop account's row is never locked or updated by a transfer (docs/ledger.md "Shop
accounts"): if it were, every redemption and every balance payment in a currency would wait on
that one row until commit. So its balance is the sum of its postings, read here, for staff
pages, reports and tests. A shopper's account keeps its cached `balance` (locked, checked and
written with each transfer): these reads return it as it is. Reads only: no writes, no locks.
"""

from django.db.models import Case, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce

from wallet.models import CUSTOMER_KINDS, Account, Posting


def accounts_with_balance(queryset: QuerySet[Account]) -> QuerySet[Account]:
    """`queryset` with `ledger_balance` on each account: the cached balance for a shopper's,
    the sum of its postings for the shop's (one subquery per shop account shown, on the
    account's posting index)."""
    postings_sum = (
        Posting.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return queryset.annotate(
        ledger_balance=Case(
            When(kind__in=CUSTOMER_KINDS, then="balance"),
            default=Coalesce(Subquery(postings_sum), 0),
        )
    )


def account_balance_get(*, account: Account) -> int:
    """The balance of any ledger account (a shopper's or the shop's), read now."""
    if account.kind in CUSTOMER_KINDS:
        return Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    return Posting.objects.filter(account=account).aggregate(total=Coalesce(Sum("amount"), 0))[
        "total"
    ]


def shop_balances_get(*, kinds=None) -> dict[tuple[str, str], int]:
    """Every shop account's balance by (kind, currency), in one aggregate query (of `kinds`
    only, when given). A shop account with no posting yet is left out (its balance is 0)."""
    shop = ~Q(account__kind__in=CUSTOMER_KINDS)
    if kinds is not None:
        shop &= Q(account__kind__in=kinds)
    rows = (
        Posting.objects.filter(shop)
        .values("account__kind", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(row["account__kind"], row["currency"]): row["total"] for row in rows}
