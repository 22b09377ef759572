"""A migrated schema kept between runs of the HTTP servers (tests/http/servers.py).

Migrating a fresh PostgreSQL database takes most of the servers' start-up (about 30 s on a busy
two-core machine, for some 90 migrations). The first run migrates and dumps the result
(pg_dump: the tables and the rows the data migrations write) into var/http-schema/; later runs
restore that dump instead (psql, a second or two) as long as every migration file, ours and the
installed packages', is the one the dump was made from. The dump holds no secret and no code:
only what `migrate` writes into an empty database.
"""

import glob
import hashlib
import os
import site
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "http-schema"


def _bindir() -> Path | None:
    """The PostgreSQL client programs matching scripts/test-services.sh's server (the newest)."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]) if found else None


def _fingerprint() -> str:
    """Every migration file that `migrate` would run, ours and the installed packages', and
    the PostgreSQL version that dumps and loads."""
    digest = hashlib.sha256(str(_bindir()).encode())
    roots = [ROOT, *map(Path, site.getsitepackages())]
    for root in roots:
        for pattern in ("*/migrations/*.py", "*/*/migrations/*.py", "*/*/*/migrations/*.py"):
            for path in sorted(root.glob(pattern)):
                if ".venv" in path.relative_to(root).parts:
                    continue
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _libpq_url(database_url: str) -> str:
    """The URL for psql and pg_dump (Django's options such as conn_max_age dropped)."""
    parts = urlsplit(database_url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def schema_restore(database_url: str) -> bool:
    """Load the kept schema into the (empty) database; False when there is none for the
    migrations as they are now (then migrate, and `schema_keep`)."""
    bindir = _bindir()
    dump = CACHE / f"{_fingerprint()}.sql"
    if bindir is None or not dump.is_file():
        return False
    subprocess.run(  # noqa: S603 (PostgreSQL's own client, our own file)
        [bindir / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", dump, _libpq_url(database_url)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return True


def schema_keep(database_url: str) -> None:
    """Dump the freshly migrated database for the next runs (replacing older dumps)."""
    bindir = _bindir()
    if bindir is None:
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    dump = CACHE / f"{_fingerprint()}.sql"
    partial = dump.with_suffix(f".{os.getpid()}.part")
    argv = [bindir / "pg_dump", "--no-owner", "--no-privileges", "-f", partial]
    subprocess.run([*argv, _libpq_url(database_url)], check=True)  # noqa: S603 (PostgreSQL's)
    for old in CACHE.glob("*.sql"):
        old.unlink(missing_ok=True)
    partial.replace(dump)
