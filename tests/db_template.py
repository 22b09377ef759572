"""One migrated test database, copied for every pytest worker instead of each migrating its own.

Migrating an empty database (some 90 migrations) costs about 10 s of CPU on SQLite and more on
PostgreSQL, and `make test` used to do it once per worker of each stage, and again for the
command-line tests' own SQLite file. Here the first worker of a run to need it makes a template
under a file lock, the others wait for it, and every test database is a copy:

- SQLite: a migrated file kept in var/test-db/, named after every migration file that `migrate`
  runs (ours and the installed packages'); each worker's in-memory test database is filled
  from it with SQLite's backup API. Later runs reuse the file while the migrations are the same.
- PostgreSQL: a database in the run's cluster, loaded from the migrated dump the http stage
  keeps (tests/http/schema.py) or migrated and then dumped for it; each worker's test database
  is `CREATE DATABASE … TEMPLATE` it.

Django's own `migrate` still runs on each copy, finds every migration applied and only runs its
post-migrate steps, so the copy is the database `migrate` would have made, row for row.
"""

import fcntl
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.db.backends.base.creation import BaseDatabaseCreation

from tests.http.schema import _fingerprint as migrations_fingerprint
from tests.http.schema import schema_keep, schema_restore

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "test-db"


@contextmanager
def _locked(vendor: str) -> Iterator[None]:
    """One process of this working tree at a time makes a template of `vendor`'s; the others
    wait (a lock per database: the PostgreSQL stage's migrate must not hold up SQLite's)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{vendor}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _migrate(database_url: str) -> None:
    """`manage.py migrate` into `database_url` with the test settings, in a process of its own
    (as the test database's own set-up would: `--run-syncdb` too)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
    }
    subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--run-syncdb", "--noinput", "-v0"],
        env=env,
        cwd=ROOT,
        check=True,
    )


def sqlite_template() -> Path:
    """A migrated SQLite file for the migrations as they are now (made once, then reused)."""
    path = CACHE / f"{migrations_fingerprint()}.sqlite3"
    with _locked("sqlite"):
        if path.is_file():
            return path
        part = path.with_suffix(f".{os.getpid()}.part")
        part.unlink(missing_ok=True)
        _migrate(f"sqlite:///{part}")
        # One self-contained file (the settings put SQLite in WAL mode): copied as it is.
        with closing(sqlite3.connect(part)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        part.replace(path)
        # Templates of older migrations, unless another run may still be copying one.
        for old in CACHE.glob("*.sqlite3"):
            if old != path and old.stat().st_mtime < time.time() - 3600:
                old.unlink(missing_ok=True)
    return path


def _postgres_template(creation: BaseDatabaseCreation) -> str:
    """A migrated database in the test cluster, made once per cluster: loaded from the kept
    dump, or migrated and then dumped (for the next runs and the http stage)."""
    name = f"coinpurse_template_{migrations_fingerprint()[:16]}"
    with _locked("postgresql"):
        with creation._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is not None:
                return name
            part = f"{name}_{os.getpid()}"
            cursor.execute(f'DROP DATABASE IF EXISTS "{part}"')
            cursor.execute(f'CREATE DATABASE "{part}"')
        parts = urlsplit(os.environ["DATABASE_URL"])
        url = urlunsplit((parts.scheme, parts.netloc, f"/{part}", parts.query, ""))
        if not schema_restore(url):
            _migrate(url)
            schema_keep(url)
        # Published under its name only once whole (no one is connected to it now).
        with creation._nodb_cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{part}" RENAME TO "{name}"')
    return name


def create_test_db(self: BaseDatabaseCreation, *args, keepdb: bool = False, **kwargs) -> str:
    """Django's own `create_test_db`, on a copy of the template instead of an empty database."""
    settings_dict = self.connection.settings_dict
    if not keepdb and self.connection.vendor == "sqlite":
        name = self._get_test_db_name()
        if self.is_in_memory_db(name):
            template = sqlite_template()
            self.connection.close()
            settings_dict["NAME"] = name
            self.connection.ensure_connection()
            with closing(sqlite3.connect(f"file:{template}?mode=ro", uri=True)) as source:
                source.backup(self.connection.connection)
    elif (
        not keepdb
        and self.connection.vendor == "postgresql"
        and "DATABASE_URL" in os.environ
        and not settings_dict["TEST"].get("TEMPLATE")
    ):
        settings_dict["TEST"]["TEMPLATE"] = _postgres_template(self)
    return _django_create_test_db(self, *args, keepdb=keepdb, **kwargs)


_django_create_test_db = BaseDatabaseCreation.create_test_db


def install() -> None:
    BaseDatabaseCreation.create_test_db = create_test_db
