"""Running the real worker (`jobs_run_pending`) inside a test's transaction.

`db_worker` calls `close_old_connections()` around every job, as a long-running process
should. Inside a `django_db` test the connection is in the test's transaction (autocommit
off), which Django counts as unusable, so on PostgreSQL the worker would close the very
connection holding the test's data (SQLite's in-memory test database ignores the close).
Django's own test client disconnects that call for the same reason; this fixture does it for
the worker.
"""

import pytest
from django_tasks_db.management.commands import db_worker


@pytest.fixture(autouse=True)
def worker_keeps_the_test_connection(monkeypatch):
    monkeypatch.setattr(db_worker, "close_old_connections", lambda **kwargs: None)
