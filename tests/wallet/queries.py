"""Counting a page's queries without the navigation's cart count.

The navigation bar's cart count (one query on every page, another helper's concern) is left
out, so the wallet's own counts stay exact whether or not it is there.
"""

from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext


def _own(queries) -> list[str]:
    return [q["sql"] for q in queries if '"checkout_cartline"' not in q["sql"]]


@contextmanager
def assert_num_queries(expected: int):
    """Like django_assert_num_queries(expected), ignoring the nav's cart-count query."""
    with CaptureQueriesContext(connection) as context:
        yield context
    own = _own(context.captured_queries)
    assert len(own) == expected, f"{len(own)} queries, expected {expected}:\n" + "\n".join(own)


def count_queries(func) -> int:
    """How many queries `func()` makes, without the nav's cart count."""
    with CaptureQueriesContext(connection) as context:
        func()
    return len(_own(context.captured_queries))
