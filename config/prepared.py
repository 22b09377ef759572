"""Fewer and cheaper trips to PostgreSQL for the hot fixed SQL: statements planned once per
connection (`prepared_cursor`), and statements sent together (`pipelined`).

The few statements written as SQL because a page or a redemption runs them on every request
(the wallet page's reads, wallet/overview_reads.py; the navigation's cart count; the redemption's
writes and locks, wallet/statements.py, wallet/locks.py) cost PostgreSQL more to plan than to
run: the wallet page's activity statement plans in about 0.8 ms and runs in 0.3 (issue 13,
bench/http_load.py). Through this cursor each is a server-side prepared statement: psycopg
prepares it on its first run on a connection and afterwards only executes it. The connection
must outlive a request for that to pay (CONN_MAX_AGE, docs/interface.md §10).

Django's ORM keeps its client-side binding (the default, docs: "Server-side parameters
binding"); only these statements bind server-side, with `%s` placeholders as usual. It is the
Django cursor wrapper around it: the statements are counted and logged like any other query
(the query-count tests see them), and database errors are Django's.

`DATABASE_PREPARED_STATEMENTS=false` turns it off: behind a connection pooler in transaction
mode that cannot keep a session's prepared statements (PgBouncer before 1.21). SQLite has no
such cursor: the plain one (its statements are cached by the sqlite3 module already).
"""

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection


def prepared_cursor():
    """A cursor for `with prepared_cursor() as cursor:` whose `execute` prepares the statement
    on PostgreSQL (psycopg's per-connection cache of prepared statements); elsewhere, or when
    turned off, Django's own cursor."""
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's preparing off for the connection (for poolers); on again, but
        # only for a statement asked to be prepared: never by count. The ORM's client-side
        # cursors never prepare whatever this says.
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_prepared_class()(raw))


_ONLY_WHEN_ASKED = 2**31 - 1


@contextmanager
def pipelined():
    """Inside, statements are sent without waiting for each one's answer (psycopg's pipeline
    mode on PostgreSQL); the end of the block waits once for every answer, which PostgreSQL
    still runs one after another, in order. Read the results after the block: then the block
    is one round trip (a read inside it waits for the answers so far, a trip of its own). The
    redemption's three locks are one round trip this way (wallet/locks.py, issue 13).

    Only for `prepared_cursor` statements; no ORM query inside. A database error is raised, as
    Django's, by the read or the block's end that waits for it. Nested blocks are fine (the
    inner end waits too). SQLite: no change."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def sent_together(*statements: tuple[str, Sequence]) -> list[list[tuple]]:
    """Run each (sql, params) through `prepared_cursor`, all in one `pipelined` block (one
    round trip on PostgreSQL), and return each one's rows, in order."""
    cursors = []
    try:
        with pipelined():
            for sql, params in statements:
                cursors.append(prepared_cursor())
                cursors[-1].execute(sql, params)
        # Read once the block's one round trip has brought every answer back.
        return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


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


@cache
def _prepared_class():
    # Imported on first use: the PostgreSQL backend module needs psycopg, which a SQLite-only
    # machine may not have.
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparedCursor
