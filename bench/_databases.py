"""What the benchmarks share (not a benchmark itself: `make bench` runs bench/[!_]*.py): the
backends to measure and a fresh database for each."""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit


def postgres_database(base_url: str, name: str) -> str:
    """Create a fresh database `name` next to the one in `base_url`; return its URL."""
    import psycopg

    parts = urlsplit(base_url)
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextlib.contextmanager
def bench_databases(backends: str) -> Iterator[list[tuple[str, str]]]:
    """(backend, fresh database URL) for each of `backends` ("sqlite,postgres"; empty: SQLite,
    and PostgreSQL when DATABASE_URL names a server, as scripts/test-services.sh sets it). The
    SQLite files live in a folder removed on exit. Exits with a message for an unknown
    backend, or PostgreSQL asked for without a server."""
    postgres_url = os.environ.get("DATABASE_URL", "")
    has_postgres = postgres_url.startswith(("postgres://", "postgresql://"))
    names = backends.split(",") if backends else ["sqlite"] + (["postgres"] * has_postgres)
    with tempfile.TemporaryDirectory() as folder:
        urls = []
        for backend in names:
            if backend == "sqlite":
                urls.append((backend, f"sqlite:///{folder}/bench-{len(urls)}.sqlite3"))
            elif backend == "postgres":
                if not has_postgres:
                    sys.exit(
                        "postgres: set DATABASE_URL to a PostgreSQL server (see the docstring)"
                    )
                name = f"coinpurse_bench_{os.getpid()}"
                urls.append((backend, postgres_database(postgres_url, name)))
            else:
                sys.exit(f"unknown backend {backend!r}")
        yield urls
