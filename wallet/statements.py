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
`transfer_with_postings_insert`: a transfer's three (with any of the caller's own, `also`), one
statement on PostgreSQL.
"""

import datetime
from collections.abc import Sequence
from functools import cache

from django.db import connection

from config.prepared import prepared_cursor
from wallet.models import Account, GiftCard, Posting, Transfer


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _columns(model, names: Sequence[str]) -> str:
    return ", ".join(_column(model, name) for name in names)


# A write as its SQL and parameters, to send with others (`transfer_with_postings_insert`).
Statement = tuple[str, list]

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
    sql, params = _postings_statement(postings)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        _postings_ids(postings, cursor.fetchall())


def transfer_with_postings_insert(
    *,
    transfer: Transfer,
    postings: Sequence[Posting],
    account: Account | None = None,
    also: Sequence[Statement] = (),
) -> None:
    """`transfer_insert`, `postings_insert` and (for the shopper `account`, its row locked by the
    caller) `balance_update` together, with `also`, the caller's own writes that return nothing
    (`giftcard_redeemed_statement`). On PostgreSQL one statement, its writes in a WITH clause
    (`_together_sql`): one round trip, one statement to run. Elsewhere the statements in turn."""
    if connection.vendor != "postgresql":
        for sql, params in also:
            statement_run(sql, params)
        transfer_insert(transfer=transfer)
        for posting in postings:
            posting.transfer = transfer
        postings_insert(postings=postings)
        if account is not None:
            balance_update(account=account)
        return
    params = [value for _, also_params in also for value in also_params]
    params += _transfer_params(transfer)
    for posting in postings:
        params += _posting_values(posting)
    if account is not None:
        params += [account.balance, account.pk]
    sql = _together_sql(tuple(sql for sql, _ in also), len(postings), account is not None)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        transfer.pk, ids = cursor.fetchone()
    _saved(transfer)
    for posting in postings:
        posting.transfer = transfer
    _postings_ids(postings, [(posting_id,) for posting_id in ids])


@cache
def _together_sql(also: tuple[str, ...], postings: int, balance: bool) -> str:
    """PostgreSQL: `also`'s writes, the transfer's INSERT, its postings' INSERT (naming the
    transfer by the id the first returns) and the balance's UPDATE as one statement. Each write
    of a WITH clause runs once and to completion, on its own table, whether the final SELECT
    reads it or not; that SELECT returns the transfer's id and its postings'. The postings'
    values are cast to their columns' types (a VALUES list inside a SELECT has no column to
    take them from)."""
    quote = connection.ops.quote_name
    writes = [f"also_{number} AS ({sql})" for number, sql in enumerate(also)]
    writes.append(f"new_transfer AS ({_sql('postgresql', 'transfer_insert')})")
    fields = [Posting._meta.get_field(name) for name in POSTING_FIELDS[1:]]
    row = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
    names = ", ".join(quote(field.column) for field in fields)
    writes.append(
        f"new_postings AS (INSERT INTO {_table(Posting)} ({_columns(Posting, POSTING_FIELDS)}) "  # noqa: S608  # nosec B608
        f"SELECT new_transfer.{quote('id')}, {names} FROM new_transfer, "
        f"(VALUES {', '.join([f'({row})'] * postings)}) AS leg ({names}) RETURNING {quote('id')})"
    )
    if balance:
        writes.append(f"new_balance AS ({_sql('postgresql', 'balance_update')})")
    return (
        f"WITH {', '.join(writes)} SELECT (SELECT {quote('id')} FROM new_transfer), "  # noqa: S608  # nosec B608
        f"ARRAY(SELECT {quote('id')} FROM new_postings)"
    )


def _postings_statement(postings: Sequence[Posting]):
    """The multi-row INSERT of `postings` (their transfer saved) and its parameters."""
    per_row = ", ".join(["%s"] * len(POSTING_FIELDS))
    rows = ", ".join([f"({per_row})"] * len(postings))
    pk = connection.ops.quote_name("id")
    params = []
    for posting in postings:
        params += [posting.transfer_id, *_posting_values(posting)]
    return f"{_sql(connection.vendor, 'posting_insert')}{rows} RETURNING {pk}", params


def _posting_values(posting: Posting) -> list:
    """A posting's values after its transfer, in the order of POSTING_FIELDS."""
    return [posting.account_id, posting.currency, posting.amount, posting.balance_after]


def _postings_ids(postings: Sequence[Posting], rows) -> None:
    ids = sorted(row[0] for row in rows)
    for posting, posting_id in zip(postings, ids, strict=True):
        posting.pk = posting_id
        posting._state.adding = False
        posting._state.db = connection.alias


def balance_update(*, account: Account) -> None:
    """Write the shopper `account`'s cached balance (the caller holds its row lock)."""
    statement_run(_sql(connection.vendor, "balance_update"), [account.balance, account.pk])


def giftcard_redeemed_statement(*, card: GiftCard) -> Statement:
    """The write of the locked `card`'s redemption (`status`, `redeemed_by`, `redeemed_at`), to
    run (`giftcard_redeemed_update`) or to send with the transfer's writes (`also`)."""
    params = [card.status, card.redeemed_by_id, _datetime(card.redeemed_at), card.pk]
    return _sql(connection.vendor, "giftcard_redeemed"), params


def giftcard_redeemed_update(*, card: GiftCard) -> None:
    """Write the locked `card`'s redemption (`giftcard_redeemed_statement`)."""
    statement_run(*giftcard_redeemed_statement(card=card))


def statement_run(sql: str, params: list) -> None:
    """Run one of these writes that returns nothing."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
