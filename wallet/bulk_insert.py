"""Fast inserts of many gift cards at once, for batch issue.

One ORM `create()` per card manages about a thousand cards a second; a million-card campaign
needs the database's own bulk path: COPY on PostgreSQL, one prepared `executemany` on SQLite.
Rows a producer process already formatted (`wallet/code_producer.py`) go in as they are: one
COPY of their text on PostgreSQL, one `INSERT … SELECT` over their JSON on SQLite.
Callers own the transaction.
"""

import datetime
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connection, transaction

from wallet.code_producer import CodeChunk
from wallet.models import GiftCard

SQLITE_WAL_CHECKPOINT_PAGES = 25_000  # 100 MB of 4 KiB pages
# SQLite's page cache while a command issues (2 MB by default): the unique index on random
# hashes is read and rewritten all over at every chunk; kept in memory, a million cards take
# half the time. The issuing process ends with the batch, and this memory with it.
SQLITE_BULK_CACHE_KIB = 32_768

# Per card; every other column is the same for the whole batch.
CARD_COLUMNS = ["code_hash", "last4"]
BATCH_COLUMNS = [
    "amount",
    "currency",
    "region_id",
    "status",
    "status_reason",
    "expires_on",
    "batch_id",
    "created_at",
]


def giftcards_bulk_insert(
    cards: "Sequence[tuple[str, str]] | CodeChunk",
    *,
    amount: int,
    currency: str,
    region_id: str,
    expires_on: datetime.date | None,
    batch_id: int,
    created_at: datetime.datetime,
) -> None:
    """Insert active gift cards of one batch: `cards` holds (code hash, last 4) pairs, or is
    a producer's `CodeChunk` whose rows were formatted with `giftcards_row_tail` of the same
    batch values."""
    shared = _shared(amount, currency, region_id, expires_on, batch_id, created_at)
    table = connection.ops.quote_name(GiftCard._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in CARD_COLUMNS + BATCH_COLUMNS)
    with connection.cursor() as cursor:
        if isinstance(cards, CodeChunk):
            _chunk_insert(cursor, cards, table, columns, shared)
        elif connection.vendor == "postgresql":
            # COPY's text format, built as one string: far faster than a row at a time.
            # No escaping is needed: hex digests, code symbols, numbers, codes, ISO dates
            # and an empty string hold no tab, newline or backslash; NULL is \N.
            tail = _copy_tail(shared)
            block = "".join(f"{digest}\t{last4}\t{tail}\n" for digest, last4 in cards)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(block)
        else:
            values = _sqlite_values(shared)
            # Random hashes touch index pages all over the file; checkpointing the WAL less
            # often writes each page back once instead of once per chunk.
            cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_CHECKPOINT_PAGES}")
            placeholders = ", ".join(["%s"] * (len(CARD_COLUMNS) + len(BATCH_COLUMNS)))
            # Table and columns come from the model, quoted; every value is a parameter.
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608  # nosec B608
            # In index order: the unique index on the hashes is the cost of the insert.
            cursor.executemany(sql, [(digest, last4, *values) for digest, last4 in sorted(cards)])


class SecondConnection:
    """Insert chunks on a PostgreSQL connection of a thread of its own, each in a transaction
    of its own, while the caller's connection inserts others: a COPY keeps one server process
    busy, and the machine has a core to spare for a second one."""

    def __init__(self, **batch_values):
        self._values = batch_values
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="giftcard-insert")

    def submit(self, chunk: CodeChunk) -> Future:
        return self._pool.submit(self._insert, chunk)

    def _insert(self, chunk: CodeChunk) -> None:
        try:
            with transaction.atomic():
                giftcards_bulk_insert(chunk, **self._values)
        finally:
            connection.close()  # this thread's own

    def close(self) -> None:
        """Wait for the chunk in flight, if any (committed or failed), and stop the thread."""
        self._pool.shutdown(wait=True)


def giftcards_row_tail(
    *,
    amount: int,
    currency: str,
    region_id: str,
    expires_on: datetime.date | None,
    batch_id: int,
    created_at: datetime.datetime,
) -> str:
    """What follows hash and last 4 in each PostgreSQL COPY line of a producer's chunk (the
    batch's values, the line end included); SQLite's rows need none."""
    if connection.vendor != "postgresql":
        return ""
    shared = _shared(amount, currency, region_id, expires_on, batch_id, created_at)
    return "\t" + _copy_tail(shared) + "\n"


def _chunk_insert(cursor, chunk: CodeChunk, table: str, columns: str, shared: list) -> None:
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(chunk.rows)
        return
    cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
    # One statement for the whole chunk: SQLite reads the JSON array itself, so no Python
    # runs per card; the producer sorted it in the unique index's order. Each element is the
    # 64-symbol hash followed by the last 4.
    placeholders = ", ".join(["%s"] * len(BATCH_COLUMNS))
    # The driver's cursor: Django's debug cursor would keep a copy of the megabytes of JSON.
    cursor.cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT substr(value, 1, 64), substr(value, 65, 4), "  # noqa: S608  # nosec B608
        f"{placeholders} FROM json_each(%s)",
        [*_sqlite_values(shared), chunk.rows],
    )


def _shared(amount, currency, region_id, expires_on, batch_id, created_at) -> list:
    return [
        amount,
        currency,
        region_id,
        GiftCard.Status.ACTIVE,
        "",
        expires_on,
        batch_id,
        created_at,
    ]


def _sqlite_values(shared: list) -> list:
    return [
        connection.ops.adapt_datefield_value(value)
        if name == "expires_on"
        else connection.ops.adapt_datetimefield_value(value)
        if name == "created_at"
        else value
        for name, value in zip(BATCH_COLUMNS, shared, strict=True)
    ]


def _copy_tail(shared: list) -> str:
    # No escaping is needed: numbers, codes, ISO dates and an empty string hold no tab,
    # newline or backslash; NULL is \N.
    return "\t".join(_copy_text(value) for value in shared)


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime.date):  # dates and datetimes
        return value.isoformat()
    return str(value)
