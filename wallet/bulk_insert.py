"""Fast inserts of many gift cards at once, for batch issue.

One ORM `create()` per card manages about a thousand cards a second; a million-card campaign
needs the database's own bulk path: COPY on PostgreSQL, one prepared `executemany` on SQLite.
Callers own the transaction.
"""

from collections.abc import Sequence

from django.db import connection

from wallet.models import GiftCard

SQLITE_CACHE_KIB = 160 * 1024

COLUMNS = [
    "code_hash",
    "last4",
    "amount",
    "currency",
    "region_id",
    "status",
    "status_reason",
    "expires_on",
    "batch_id",
    "created_at",
]


def giftcards_bulk_insert(rows: Sequence[tuple]) -> None:
    """Insert gift card rows, each a tuple in the order of `COLUMNS` (values ready for the
    database: `created_at` adapted with `connection.ops.adapt_datetimefield_value`)."""
    table = connection.ops.quote_name(GiftCard._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # The unique index on random hashes is the cost: give SQLite room to keep it in
            # memory (negative = KiB), and insert each chunk in index order.
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            rows = sorted(rows)
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )
