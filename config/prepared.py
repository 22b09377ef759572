"""Fewer and cheaper trips to PostgreSQL for the hot fixed SQL: statements planned once per
connection (`prepared_cursor`), and several sent as one query (`sent_together`).

The few statements written as SQL because a page or a redemption runs them on every request
(the wallet page's reads, wallet/overview_reads.py; the navigation's cart count; the signed-in
user; the redemption's writes and locks, wallet/statements.py, wallet/locks.py) cost PostgreSQL
more to plan than to run: the wallet page's activity statement plans in about 0.8 ms and runs
in 0.3 (issue 13, bench/http_load.py). Through this cursor each is an SQL-level prepared
statement: PREPAREd on its first run on a connection (named after its text), then only
EXECUTEd, its values bound client-side as the ORM's are. The connection must outlive a request
for that to pay (CONN_MAX_AGE, docs/interface.md §10).

Why PREPARE/EXECUTE rather than psycopg's own preparing (the protocol's Parse/Bind) and its
pipeline mode, as before: on this 2-core machine, where the workers, PostgreSQL and Redis share
the cores, client CPU is the limit, and psycopg's pipeline costs more CPU per statement than the
round trip it saves (three lock reads: 0.56 ms of a worker's CPU pipelined, 0.33 as one query
string); several EXECUTEs in one query string are one trip and one `execute`. And psycopg
answers every ROLLBACK, of a refused redemption too, with DEALLOCATE ALL when it has prepared
anything itself, so every statement was planned again after each refusal; it now prepares
nothing, and the names made here stay for the connection's life.

It is Django's cursor: the statements are counted and logged like any other query (the
query-count tests see them, as `EXECUTE coinpurse_…(values)`), and database errors are Django's.
The PREPARE itself goes straight to the connection, uncounted: plumbing, like the Parse it
replaces, so a page's count is the same on a connection's first request and its hundredth.

`DATABASE_PREPARED_STATEMENTS=false` turns it off (the statements themselves, planned every
time): behind a connection pooler in transaction mode, which cannot keep a session's SQL-level
prepared statements. SQLite has no such cursor: the plain one (its statements are cached by the
sqlite3 module already).
"""

import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import connection


def _preparing() -> bool:
    return connection.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS


class _PreparedCursor:
    """Django's cursor, whose `execute(sql, params)` runs `sql` (`%s` placeholders) as the
    statement prepared on this connection."""

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql, params=()):
        return self._cursor.execute(_executed(sql, params), params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._cursor.close()


def prepared_cursor():
    """A cursor for `with prepared_cursor() as cursor:` whose `execute` runs the statement
    prepared on this connection (PostgreSQL); elsewhere, or when turned off, Django's own."""
    cursor = connection.cursor()
    return _PreparedCursor(cursor) if _preparing() else cursor


def sent_together(*statements: tuple[str, Sequence]) -> list[list[tuple]]:
    """Run the (sql, params) one after another, in their order, and return each one's rows, in
    order: on PostgreSQL one query string of their EXECUTEs (one trip, one `execute`), elsewhere
    each in turn. The redemption's three locks (wallet/locks.py, taken in this order) and the
    wallet page's reads (wallet/overview_reads.py) go this way."""
    if connection.vendor != "postgresql":
        found = []
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                found.append(cursor.fetchall())
        return found
    parts, values = [], []
    for sql, params in statements:
        parts.append(_executed(sql, params) if _preparing() else sql)
        values += params
    with connection.cursor() as cursor:
        cursor.execute("; ".join(parts), values)
        found = [cursor.fetchall()]
        while cursor.nextset():
            found.append(cursor.fetchall())
    return found


# The names PREPAREd on each open connection (psycopg's connection object: a new connection has
# none). A PREPARE is not undone by a rollback, and nothing here deallocates: a name once made
# stays until the connection closes.
_names: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()
# Each name's statement, for whoever reads a logged `EXECUTE coinpurse_…` (`statement_of`).
_statements: dict[str, str] = {}


def statement_of(name: str) -> str | None:
    """The SQL (`%s` placeholders) that the prepared statement `name` runs, when this process
    made it; None otherwise (pg_prepared_statements has it on its connection)."""
    return _statements.get(name)


def _executed(sql: str, params: Sequence) -> str:
    """The EXECUTE of `sql` prepared on this connection (PREPAREd now when it is not yet), with
    a `%s` for each of its values."""
    name = "coinpurse_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    _statements.setdefault(name, sql)
    connection.ensure_connection()
    raw = connection.connection
    made = _names.setdefault(raw, set())
    if name not in made:
        pieces = sql.split("%s")
        numbered = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))
        with connection.wrap_database_errors:
            raw.execute(f"PREPARE {name} AS {numbered}")
        made.add(name)
    return f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}"


@dataclass(frozen=True)
class ModelRead:
    """Some of a model's columns in a hand-written statement, and how to turn them back into
    the instance the ORM would give: the values each through the converters the ORM applies
    (SQLite's dates and datetimes come as text or naive), then `Model.from_db`."""

    model: type
    names: tuple[str, ...]  # the fields' attnames, in the model's field order
    columns: tuple[str, ...]  # "table.column", in the same order, for the SELECT
    converters: tuple  # per column: (its converters, its Col)

    def instance(self, values):
        """The instance of `values`, one per column (a row's slice)."""
        out = []
        for value, (found, col) in zip(values, self.converters, strict=True):
            for converter in found:
                value = converter(value, col, connection)
            out.append(value)
        return self.model.from_db(connection.alias, self.names, out)


def model_read(model, table: str, attnames: Sequence[str] | None = None) -> ModelRead:
    """`ModelRead` of `model`'s fields of `attnames` (every concrete field when None), each
    selected as `table`.column (`table` is the statement's name or alias for its table)."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if attnames is None or field.attname in attnames
    ]
    converters = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        converters.append((tuple(found), col))
    return ModelRead(
        model=model,
        names=tuple(field.attname for field in fields),
        columns=tuple(f"{table}.{connection.ops.quote_name(field.column)}" for field in fields),
        converters=tuple(converters),
    )
