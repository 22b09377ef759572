"""The ledger's fixed write statements, as SQL built once from the models' metadata.

A transfer always writes the same shapes of row: one transfer, its postings, the shoppers'
cached balances, and for a redemption its card. Building each statement through the ORM costs
more CPU than running it (a model save, `bulk_create` and `bulk_update` compile their SQL anew
every time), so the services that post transfers (wallet/services/ledger.py,
wallet/services/giftcards.py) run these instead: plain parameterised SQL, the table and column
names read from the models, written once per database vendor. tests/wallet/test_ledger_sql.py
proves each writes exactly the rows the ORM writes, on SQLite and PostgreSQL.

Only writes live here, no locks (wallet/locks.py) and no rules: the callers have locked and
checked before they call. Each function runs one statement, except
`transfer_with_postings_insert`: a transfer's three, sent together.
"""

import datetime
from collections.abc import Sequence
from functools import cache

from django.db import connection

from config.prepared import pipelined, prepared_cursor
from wallet.models import Account, GiftCard, Posting, Transfer


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _columns(model, names: Sequence[str]) -> str:
    return ", ".join(_column(model, name) for name in names)


# The columns each insert writes, in order (every concrete field but the primary key).
TRANSFER_FIELDS = (
    "idempotency_key",
    "kind",
    "description",
    "created_at",
    "created_by",
    "reference",
)
POSTING_FIELDS = ("transfer", "account", "currency", "amount", "balance_after")


@cache
def _sql(vendor: str, name: str) -> str:
    """Statement `name` for `vendor` (SQLite and PostgreSQL both take RETURNING). The names
    interpolated are the models' own tables and columns, quoted; every value is a parameter."""
    del vendor  # part of the cache key: the quoting is the vendor's
    pk = connection.ops.quote_name("id")
    transfer, posting = _table(Transfer), _table(Posting)
    account, card = _table(Account), _table(GiftCard)
    values = ", ".join(["%s"] * len(TRANSFER_FIELDS))
    balance = _column(Account, "balance")
    status, by, at = (_column(GiftCard, f) for f in ("status", "redeemed_by", "redeemed_at"))
    statements = {
        "transfer_insert": f"INSERT INTO {transfer} ({_columns(Transfer, TRANSFER_FIELDS)}) "  # noqa: S608  # nosec B608
        f"VALUES ({values}) RETURNING {pk}",
        # The head of a multi-row insert: the caller adds one "(...)" per posting.
        "posting_insert": f"INSERT INTO {posting} ({_columns(Posting, POSTING_FIELDS)}) VALUES ",  # noqa: S608  # nosec B608
        "balance_update": f"UPDATE {account} SET {balance} = %s WHERE {pk} = %s",  # noqa: S608  # nosec B608
        "giftcard_redeemed": f"UPDATE {card} SET {status} = %s, {by} = %s, {at} = %s "  # noqa: S608  # nosec B608
        f"WHERE {pk} = %s",
    }
    return statements[name]


def _datetime(value: datetime.datetime):
    """A datetime as the ORM hands it to this database (SQLite: text in UTC)."""
    return connection.ops.adapt_datetimefield_value(value)


def transfer_insert(*, transfer: Transfer) -> None:
    """INSERT the unsaved `transfer` (its `created_at` set by the caller) and give it its id."""
    with prepared_cursor() as cursor:
        cursor.execute(_sql(connection.vendor, "transfer_insert"), _transfer_params(transfer))
        transfer.pk = cursor.fetchone()[0]
    _saved(transfer)


def _transfer_params(transfer: Transfer) -> list:
    return [
        transfer.idempotency_key,
        transfer.kind,
        transfer.description,
        _datetime(transfer.created_at),
        transfer.created_by_id,
        transfer.reference,
    ]


def _saved(transfer: Transfer) -> None:
    transfer._state.adding = False
    transfer._state.db = connection.alias


def postings_insert(*, postings: Sequence[Posting]) -> None:
    """INSERT the unsaved `postings` (their transfer saved) in one statement, and give each its
    id: the ids are handed out ascending in the order of the VALUES (SQLite's rowid,
    PostgreSQL's sequence), so RETURNING's rows are sorted rather than trusted to come back in
    that order."""
    sql, params = _postings_statement(postings, transfer_id=None)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        _postings_ids(postings, cursor.fetchall())


def transfer_with_postings_insert(
    *, transfer: Transfer, postings: Sequence[Posting], account: Account | None = None
) -> None:
    """`transfer_insert`, `postings_insert` and (for the shopper `account`, its row locked by the
    caller) `balance_update` together: on PostgreSQL sent in one pipeline (config/prepared.py),
    the postings naming the transfer just inserted by its sequence's current value in this
    session (`currval`), so nothing waits for the transfer's id: one round trip, or none of its
    own inside the caller's `pipelined` block. Elsewhere the three statements in turn."""
    if connection.vendor != "postgresql":
        transfer_insert(transfer=transfer)
        for posting in postings:
            posting.transfer = transfer
        postings_insert(postings=postings)
        if account is not None:
            balance_update(account=account)
        return
    sql, params = _postings_statement(postings, transfer_id=_current_transfer_id())
    with pipelined():
        inserted, posted = prepared_cursor(), prepared_cursor()
        try:
            inserted.execute(_sql(connection.vendor, "transfer_insert"), _transfer_params(transfer))
            posted.execute(sql, params)
            if account is not None:
                balance_update(account=account)
            transfer.pk = inserted.fetchone()[0]
            ids = posted.fetchall()
        finally:
            inserted.close()
            posted.close()
    _saved(transfer)
    for posting in postings:
        posting.transfer = transfer
    _postings_ids(postings, ids)


def _current_transfer_id() -> str:
    # The sequence behind the transfer's id (an identity column): the value this session's last
    # insert into the table took. Names of our own table and column only.
    table = connection.ops.quote_name(Transfer._meta.db_table)
    return f"currval(pg_get_serial_sequence('{table}', 'id'))"


def _postings_statement(postings: Sequence[Posting], *, transfer_id: str | None):
    """The multi-row INSERT of `postings` and its parameters; `transfer_id`: SQL naming the
    transfer in every row (else each posting's own `transfer_id`, a parameter)."""
    per_row = ", ".join([transfer_id or "%s"] + ["%s"] * (len(POSTING_FIELDS) - 1))
    rows = ", ".join([f"({per_row})"] * len(postings))
    pk = connection.ops.quote_name("id")
    params = []
    for posting in postings:
        if transfer_id is None:
            params.append(posting.transfer_id)
        params += [posting.account_id, posting.currency, posting.amount, posting.balance_after]
    return f"{_sql(connection.vendor, 'posting_insert')}{rows} RETURNING {pk}", params


def _postings_ids(postings: Sequence[Posting], rows) -> None:
    ids = sorted(row[0] for row in rows)
    for posting, posting_id in zip(postings, ids, strict=True):
        posting.pk = posting_id
        posting._state.adding = False
        posting._state.db = connection.alias


def balance_update(*, account: Account) -> None:
    """Write the shopper `account`'s cached balance (the caller holds its row lock)."""
    with prepared_cursor() as cursor:
        cursor.execute(_sql(connection.vendor, "balance_update"), [account.balance, account.pk])


def giftcard_redeemed_update(*, card: GiftCard) -> None:
    """Write the locked `card`'s redemption (`status`, `redeemed_by`, `redeemed_at`)."""
    params = [card.status, card.redeemed_by_id, _datetime(card.redeemed_at), card.pk]
    with prepared_cursor() as cursor:
        cursor.execute(_sql(connection.vendor, "giftcard_redeemed"), params)
