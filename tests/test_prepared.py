"""The hot fixed statements are prepared once per PostgreSQL connection (config/prepared.py):
planned on the first run, only executed afterwards; counted like any query; the ORM's own
queries never prepared; off with DATABASE_PREPARED_STATEMENTS."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from config.prepared import prepared_cursor
from tests.accounts.factories import UserFactory
from wallet.overview_reads import wallet_overview_get

pytestmark = pytest.mark.django_db

PROBE = "SELECT %s::int + 1 AS coinpurse_probe"


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _run(sql, params):
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_statement_is_prepared_once_and_its_answers_stay_right():
    assert [_run(PROBE, [n]) for n in (1, 41, -3)] == [2, 42, -2]
    probes = [s for s in _prepared_statements() if "coinpurse_probe" in s]
    assert len(probes) == 1  # one statement on the server, with placeholders: run three times
    assert "$1" in probes[0]


@pytest.mark.postgres
def test_a_rollback_keeps_the_prepared_statements():
    # psycopg answers a ROLLBACK with DEALLOCATE ALL when it has prepared statements of its
    # own: it has none (from_sql: only PREPAREs), so a refusal's rollback leaves ours in place.
    assert _run(PROBE.replace("probe", "probe_kept"), [1]) == 2
    with pytest.raises(ZeroDivisionError), transaction.atomic():  # noqa: PT012
        assert _run(PROBE.replace("probe", "probe_kept"), [2]) == 3
        raise ZeroDivisionError
    with transaction.atomic():
        sid = transaction.savepoint_create()
        _run(PROBE.replace("probe", "probe_kept"), [3])
        transaction.savepoint_rollback(sid)
    assert _run(PROBE.replace("probe", "probe_kept"), [41]) == 42
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql")
        assert cursor.fetchone()[0] == 0
    assert len([s for s in _prepared_statements() if "coinpurse_probe_kept" in s]) == 1


@pytest.mark.postgres
def test_the_orm_never_prepares_and_the_wallet_page_reads_are_counted():
    user = type(UserFactory()).objects.select_related("region").get()
    before = set(_prepared_statements())
    list(type(user).objects.filter(pk=user.pk))  # the ORM: client-side binding
    assert set(_prepared_statements()) == before
    with CaptureQueriesContext(connection) as queries:
        wallet_overview_get(user=user, page=None, page_size=25)
    # The figures and the page: one query string of two EXECUTEs, counted as any query.
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].count("EXECUTE coinpurse_") == 2
    prepared = _prepared_statements()
    assert any("UNION ALL" in s and "wallet_creditlot" in s for s in prepared)  # the figures
    assert any("COUNT(*) OVER ()" in s for s in prepared)  # the page with its count


@pytest.mark.postgres
def test_turned_off_nothing_is_prepared(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    assert _run(PROBE.replace("probe", "probe_off"), [1]) == 2
    assert not [s for s in _prepared_statements() if "coinpurse_probe_off" in s]


def test_on_sqlite_or_anywhere_the_answers_are_the_plain_cursors():
    assert _run("SELECT %s + 1", [1]) == 2
