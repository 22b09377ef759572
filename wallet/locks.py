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
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection, models

from catalog.models import Region
from config.prepared import model_read, prepared_cursor, sent_together
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


# --- The redemption's locks as fixed SQL ---------------------------------------------------
# A redemption takes three locks (the shopper, the card, the shopper's account); building their
# querysets cost more CPU than running them, so they are written once per database vendor
# here, from the models' metadata, and run as plain parameterised SQL. They lock exactly the
# rows their querysets would lock, the same way (tests/wallet/test_ledger_sql.py compares them
# with those querysets).


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _lock_clause(table: str | None, *, no_key: bool) -> str:
    """FOR [NO KEY] UPDATE [OF `table`] where the database has row locks (PostgreSQL), else
    nothing (SQLite: an IMMEDIATE transaction already holds the only, database-wide, lock)."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    strength = "NO KEY UPDATE" if no_key and features.has_select_for_no_key_update else "UPDATE"
    return f" FOR {strength}" + (f" OF {table}" if table else "")


@cache
def _redeem_statements(vendor: str) -> dict:
    """The three lock statements of a redemption, and how to read their rows, for `vendor`."""
    del vendor  # part of the cache key
    user_model = get_user_model()
    users = _quote(user_model._meta.db_table)
    cards, batches = _quote(GiftCard._meta.db_table), _quote(GiftCardBatch._meta.db_table)
    regions, accounts = _quote(Region._meta.db_table), _quote(Account._meta.db_table)
    region_column = _quote(user_model._meta.get_field("region").column)
    card = model_read(GiftCard, cards)
    batch = model_read(GiftCardBatch, batches, BATCH_FIELDS_READ)
    region = model_read(Region, regions)
    columns = ", ".join(card.columns + batch.columns + region.columns)
    return {
        # The user's row alone, joined to nothing (accounts.locks.user_qs_select_for_update).
        "user": f"SELECT {region_column} FROM {users} WHERE {_quote('id')} = %s"  # noqa: S608  # nosec B608
        + _lock_clause(None, no_key=True),
        "card": f"SELECT {columns} FROM {cards} "  # noqa: S608  # nosec B608
        f"LEFT OUTER JOIN {batches} ON {cards}.batch_id = {batches}.id "
        f"INNER JOIN {regions} ON {cards}.region_id = {regions}.code "
        f"WHERE {cards}.code_hash = %s LIMIT 1" + _lock_clause(cards, no_key=False),
        "card_read": (card, batch, region),
        "account": f"SELECT id, balance, (SELECT s.id FROM {accounts} s "  # noqa: S608  # nosec B608
        "WHERE s.kind = %s AND s.user_id IS NULL AND s.currency = %s LIMIT 1) "
        f"FROM {accounts} WHERE kind = %s AND user_id = %s AND currency = %s LIMIT 1"
        + _lock_clause(accounts, no_key=True),
    }


# What a redemption reads of the card's batch (its status and who made and approved it).
BATCH_FIELDS_READ = ("id", "status", "created_by_id", "approved_by_id")


def user_region_select_for_update(*, user_id: int) -> str | None:
    """Lock the user's row as `accounts.locks.user_qs_select_for_update` does (FOR NO KEY
    UPDATE, nothing joined: a region change takes the same lock) and return its region's code,
    read under the lock; None when there is no such user."""
    return _region_read(_one(_redeem_statements(connection.vendor)["user"], [user_id]))


def giftcard_select_for_update_by_hash(*, code_hash: str) -> GiftCard | None:
    """Lock the gift card with this code hash (at most one) as `select_for_update(of=("self",))` of
    its queryset would (only the card's row), with its batch (the fields of BATCH_FIELDS_READ) and
    its region read in the same query; None when there is none."""
    return _card_read(_one(_redeem_statements(connection.vendor)["card"], [code_hash]))


def wallet_account_select_for_update(*, user_id: int, currency: str, shop_kind: str):
    """Lock the shopper's money account in `currency` (FOR NO KEY UPDATE of it alone) and
    return it (id, kind, user, currency and balance read under the lock) with
    `shop_account_id`, the shop's account of `shop_kind` in that currency (not locked, None when
    missing); None when the shopper has no such account yet."""
    params = _account_params(user_id=user_id, currency=currency, shop_kind=shop_kind)
    row = _one(_redeem_statements(connection.vendor)["account"], params)
    return _account_read(row, user_id=user_id, currency=currency)


def redemption_rows_select_for_update(
    *, user_id: int, code_hash: str, currency: str, shop_kind: str
) -> tuple[str | None, GiftCard | None, Account | None]:
    """The three locks above, in their order (the shopper's row, the card, the shopper's money
    account in `currency`), sent together: one round trip on PostgreSQL, in this order
    (`sent_together`). Returns
    what each of the three returns."""
    statements = _redeem_statements(connection.vendor)
    sent = [
        (statements["user"], [user_id]),
        (statements["card"], [code_hash]),
        (
            statements["account"],
            _account_params(user_id=user_id, currency=currency, shop_kind=shop_kind),
        ),
    ]
    region, card, account = (rows[0] if rows else None for rows in sent_together(*sent))
    return (
        _region_read(region),
        _card_read(card),
        _account_read(account, user_id=user_id, currency=currency),
    )


def _one(sql: str, params: list):
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _region_read(row) -> str | None:
    return None if row is None else row[0]


def _card_read(row) -> GiftCard | None:
    if row is None:
        return None
    card_read, batch_read, region_read = _redeem_statements(connection.vendor)["card_read"]
    split = len(card_read.columns)
    end = split + len(batch_read.columns)
    card = card_read.instance(row[:split])
    batch = batch_read.instance(row[split:end]) if card.batch_id is not None else None
    card._state.fields_cache["batch"] = batch
    card._state.fields_cache["region"] = region_read.instance(row[end:])
    return card


def _account_params(*, user_id: int, currency: str, shop_kind: str) -> list:
    return [shop_kind, currency, Account.Kind.CUSTOMER, user_id, currency]


def _account_read(row, *, user_id: int, currency: str) -> Account | None:
    if row is None:
        return None
    account_id, balance, shop_account_id = row
    account = Account.from_db(
        connection.alias,
        ["id", "kind", "user_id", "currency", "balance"],
        [account_id, Account.Kind.CUSTOMER, user_id, currency, balance],
    )
    account.shop_account_id = shop_account_id
    return account
