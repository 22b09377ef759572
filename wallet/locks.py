"""The only home of `select_for_update` in the wallet.

Row locks are always taken in primary-key order so that two transactions locking the same
rows cannot deadlock. Across apps the global order is written once, in docs/ledger.md ("The
global lock order"): a user row → cart or order → subscription → gift card batch or balance
adjustment → promotion usage → gift cards → credit lots → wallet accounts.

Staff actions take the acting staff member's own user row first
(`staff_user_qs_select_for_update`), which serialises one person's requests so that their
rolling 24-hour total is checked and written as one step.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Subquery

from wallet.models import (
    CUSTOMER_KINDS,
    Account,
    ActivityReport,
    BalanceAdjustment,
    CreditLot,
    GiftCard,
    GiftCardBatch,
    PointsEarning,
    PointsShortfall,
    WalletSpend,
)


def account_qs_select_for_update(*, account_ids: Iterable[int]):
    """Lock the shoppers' accounts among the given ones, in primary-key order, for the rest of
    the transaction; the shop's (system) accounts among them are left out: they are never
    locked (no hot row every shopper waits on, docs/ledger.md "Shop accounts").

    `no_key`: a balance is not a key, and FOR NO KEY UPDATE does not block the postings that
    point at the account (an insert takes a key-share lock on the row it references)."""
    return (
        Account.objects.select_for_update(no_key=True)
        .filter(pk__in=set(account_ids), kind__in=CUSTOMER_KINDS)
        .order_by("pk")
    )


def wallet_account_qs_select_for_update(*, user_id: int, currency: str, shop_kind: str):
    """Lock the shopper's money account in `currency` (at most one), with `shop_account_id`:
    the id of the shop's account of `shop_kind` in that currency, read in the same query and
    not locked (`of=self`; shop accounts are never locked, docs/ledger.md "Shop accounts").
    None when either account does not exist yet."""
    shop = Account.objects.filter(kind=shop_kind, user=None, currency=currency).values("pk")[:1]
    return (
        Account.objects.select_for_update(no_key=True, of=("self",))
        .filter(kind=Account.Kind.CUSTOMER, user_id=user_id, currency=currency)
        .annotate(shop_account_id=Subquery(shop))
    )


def giftcard_qs_select_for_update(*, code_hash: str):
    """Lock the gift card with this code hash (at most one) for the rest of the transaction."""
    return (
        GiftCard.objects.select_for_update(of=("self",))
        .select_related("batch", "region")
        .filter(code_hash=code_hash)
    )


def giftcardbatch_qs_select_for_update(*, batch_id: int):
    """Lock one gift card batch (its status moves one way: approved → issuing → issued)."""
    return GiftCardBatch.objects.select_for_update().filter(pk=batch_id)


def giftcard_qs_select_for_update_by_pk(*, card_id: int):
    """Lock one gift card by primary key (staff disabling or re-enabling it)."""
    return GiftCard.objects.select_for_update().filter(pk=card_id)


def staff_user_qs_select_for_update(*, user_id: int):
    """Lock a staff member's user row: their limited requests queue here, one at a time.

    `no_key=True` (FOR NO KEY UPDATE on PostgreSQL): rows that merely point at the user (a
    batch's `created_by`, an audit entry's actor) can still be written by others meanwhile.
    """
    return get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id)


def balanceadjustment_qs_select_for_update(*, adjustment_id: int):
    """Lock one balance adjustment (pending → applied or rejected, once)."""
    return BalanceAdjustment.objects.select_for_update(of=("self",)).filter(pk=adjustment_id)


def activityreport_qs_select_for_update(*, report_id: int):
    """Lock one activity report, so its audited old → new status is the one replaced."""
    return ActivityReport.objects.select_for_update().filter(pk=report_id)


def creditlot_qs_select_for_update(*, user_id: int, currency: str, now):
    """Lock the shopper's spendable credit lots in `currency` (some left, not expired at
    `now`), in primary-key order: two spends of one wallet queue here, before the accounts.

    `of=self` and no join: PostgreSQL re-checks the filter on a lot another spend has just
    emptied, and leaves it out."""
    return (
        CreditLot.objects.select_for_update(of=("self",))
        .filter(user_id=user_id, currency=currency, remaining__gt=0, expires_at__gt=now)
        .order_by("pk")
    )


def creditlot_qs_select_for_update_by_pk(*, lot_ids: Iterable[int]):
    """Lock the given credit lots, in primary-key order (a return or an expiry)."""
    return (
        CreditLot.objects.select_for_update(of=("self",)).filter(pk__in=set(lot_ids)).order_by("pk")
    )


def walletspend_qs_select_for_update(*, transfer_id: int):
    """Lock the record of one wallet spend: returns of it queue here, so what was already
    given back is read and raised as one step. Taken before that spend's lots."""
    return WalletSpend.objects.select_for_update(of=("self",)).filter(transfer_id=transfer_id)


def pointsearning_qs_select_for_update(*, reference: str):
    """Lock the points one order earned (an earning, a reversal or its release queue here).
    Taken after credit lots and before the accounts."""
    return PointsEarning.objects.select_for_update(of=("self",)).filter(reference=reference)


def pointsearning_qs_select_for_update_by_pk(*, earning_id: int):
    """Lock one earning by its id (the release of a due earning)."""
    return PointsEarning.objects.select_for_update(of=("self",)).filter(pk=earning_id)


def pointsshortfall_qs_select_for_update(*, user_id: int):
    """Lock the shopper's points still owed, oldest first (a release settles them in that
    order). Taken after the earning and the shopper's points accounts: a refund writing a
    shortfall holds those accounts, so the release sees its row once it commits."""
    return (
        PointsShortfall.objects.select_for_update(of=("self",))
        .filter(user_id=user_id, settled__lt=models.F("points"))
        .order_by("pk")
    )
