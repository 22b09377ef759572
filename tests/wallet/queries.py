"""Counting a page's statements without the navigation's cart count.

The navigation bar's cart count (one query on every page, another helper's concern) is left
out, so the wallet's own counts stay exact whether or not it is there. Statements sent together
(config/prepared.py `sent_together`: one query string of EXECUTEs on PostgreSQL) count one
each, as they do on SQLite, where each runs in turn; an EXECUTE is read as the SQL it runs.
"""

import re
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.prepared import statement_of

_EXECUTE = re.compile(r"EXECUTE (coinpurse_[0-9a-f]+)")


def _statements(sql: str) -> list[str]:
    if not sql.startswith("EXECUTE coinpurse_"):
        return [sql]
    parts = re.split(r"; (?=EXECUTE coinpurse_)", sql)
    return [statement_of(_EXECUTE.match(part).group(1)) or part for part in parts]


def _own(queries) -> list[str]:
    return [
        statement
        for q in queries
        for statement in _statements(q["sql"])
        if '"checkout_cartline"' not in statement
    ]


@contextmanager
def assert_num_queries(expected: int):
    """Like django_assert_num_queries(expected), counting statements, ignoring the nav's
    cart-count query."""
    with CaptureQueriesContext(connection) as context:
        yield context
    own = _own(context.captured_queries)
    assert len(own) == expected, f"{len(own)} queries, expected {expected}:\n" + "\n".join(own)


def count_queries(func) -> int:
    """How many statements `func()` runs, without the nav's cart count."""
    with CaptureQueriesContext(connection) as context:
        func()
    return len(_own(context.captured_queries))
