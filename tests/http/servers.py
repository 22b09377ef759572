"""Throwaway gunicorn servers for the tests and the bench that speak HTTP to the shop.

The servers run the production settings (`config.settings`, DEBUG off, the shared Redis cache,
real secrets, `conn_max_age=60`), but over plain HTTP on 127.0.0.1 (`SECURE_SSL_REDIRECT` off;
the clients here send their cookies themselves, so `Secure` cookies do not matter). The caller's
own process uses the same database, cache and secrets (`server_env` puts them in `os.environ`
first), so the shoppers, cards, carts and sessions it makes through the real services are the
ones the servers see. Used by bench/http_load.py and tests/http/ (scripts/test-http.sh);
both run under scripts/test-services.sh, which gives DATABASE_URL and REDIS_URL.
"""

import contextlib
import hashlib
import http.client
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.http.schema import schema_keep, schema_restore

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
HEALTH_PATH = "/healthz/"
START_TIMEOUT_SECONDS = 60
# Collected once and kept (var/ is not in git): collectstatic then only copies what changed, a
# few seconds instead of compressing every file again. Apart from the shop's own
# var/staticfiles, which the test processes' WhiteNoise would otherwise scan.
STATIC_ROOT = ROOT / "var" / "http-static"
# The gunicorn master process of each running server, by port (`workers_cpu_seconds`).
ARBITERS: dict[int, int] = {}


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def persistent_url(database_url: str, *, conn_max_age: int = 60) -> str:
    """`database_url` with `conn_max_age` set, as in production (README): a worker keeps its
    connection between requests instead of opening one per request."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    query["conn_max_age"] = str(conn_max_age)
    return urlunsplit(parts._replace(query=urlencode(query)))


def server_env(
    *, database_url: str, redis_url: str, static_root: Path, trusted_proxy_count: int = 0
) -> dict[str, str]:
    """The servers' environment, and this process's: exported into `os.environ` too (before
    Django is set up here), so both sides share the secrets, the database and the cache."""
    values = {
        "DEBUG": "false",
        # This process's own secrets when it has them (scripts/test-http.sh exports random
        # ones; the test settings set theirs), else new ones: sessions and code hashes made
        # here must be the servers' too.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "CODE_PEPPER": os.environ.get("CODE_PEPPER") or secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": persistent_url(database_url),
        "REDIS_URL": redis_url,
        "STATIC_ROOT": str(static_root),
        "TRUSTED_PROXY_COUNT": str(trusted_proxy_count),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(values)
    return {**os.environ, **values, "DJANGO_SETTINGS_MODULE": "config.settings"}


def manage(env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start `manage.py` with the servers' settings; the caller waits for it (`finish`)."""
    return subprocess.Popen([sys.executable, "manage.py", *args], env=env, cwd=ROOT)  # noqa: S603


def finish(process: subprocess.Popen) -> None:
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(map(str, process.args[1:]))} failed ({process.returncode})")


def _static_fingerprint() -> str:
    """What the collected files depend on: our static folder and the installed packages."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "static").rglob("*")):
        if path.is_file():
            info = path.stat()
            digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def static_collect(env: dict[str, str]) -> None:
    """`collectstatic` into STATIC_ROOT, unless what it holds was collected from the same files
    (compressing every file again takes most of the servers' start-up)."""
    stamp = STATIC_ROOT / ".collected-from"
    fingerprint = _static_fingerprint()
    if stamp.exists() and stamp.read_text(encoding="utf-8") == fingerprint:
        return
    finish(manage(env, "collectstatic", "--noinput", "--skip-checks", "-v0"))
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint, encoding="utf-8")


def workers_cpu_seconds(port: int) -> float:
    """The CPU time the workers of the server on `port` have used so far (Linux /proc): what a
    request costs the application, whatever else the machine is busy with."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == ARBITERS[port]:  # the parent's pid
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def database_cpu_seconds() -> float:
    """The CPU time the PostgreSQL server of DATABASE_URL on this machine has used so far: its
    postmaster, its live backends and those that have ended (Linux /proc); 0 when it is not
    found here (another host, SQLite)."""
    port = str(urlsplit(os.environ.get("DATABASE_URL", "")).port or "")
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            name, fields = stat.read_text().rsplit(")", 1)
            if name.endswith("(postgres"):
                stats[int(stat.parent.name)] = fields.split()
    postmasters = [
        pid
        for pid, fields in stats.items()
        if int(fields[1]) not in stats and _listens_on(pid, port)
    ]
    total = 0
    for pid, fields in stats.items():
        if pid in postmasters:  # itself, and its children that have ended
            total += sum(int(value) for value in fields[11:15])
        elif int(fields[1]) in postmasters:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _listens_on(pid: int, port: str) -> bool:
    with contextlib.suppress(OSError):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return bool(port) and any(
            arg == b"-p" and value == port.encode() for arg, value in itertools.pairwise(argv)
        )
    return False


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if this process dies, even by SIGKILL (no stray servers
    # left on a throwaway database that is about to vanish).
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", HEALTH_PATH)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def gunicorns(
    env: dict[str, str],
    *,
    count: int,
    workers: int = 2,
    threads: int = 1,
    log_dir: Path,
    before_ready=lambda: None,
) -> Iterator[list[int]]:
    """Start `count` gunicorn processes of `workers` workers each on free ports; call
    `before_ready` while they boot; yield their ports once every one answers; stop them all on
    the way out, whatever happened."""
    processes: list[tuple[int, subprocess.Popen]] = []
    try:
        for index in range(count):
            port = free_port()
            argv = [str(GUNICORN), "-c", "python:config.gunicorn", "config.wsgi"]
            argv += ["--bind", f"127.0.0.1:{port}"]
            argv += ["--workers", str(workers), "--timeout", "60", "--graceful-timeout", "5"]
            # The app is imported once and forked into the workers: a faster start, the same
            # workers (nothing connects to the database or the cache on import).
            argv += ["--preload"]
            if threads > 1:
                argv += ["--worker-class", "gthread", "--threads", str(threads)]
            log = open(log_dir / f"gunicorn-{index}.log", "w", encoding="utf-8")  # noqa: SIM115
            process = subprocess.Popen(  # noqa: S603 (the venv's gunicorn)
                argv,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            log.close()
            processes.append((port, process))
            ARBITERS[port] = process.pid
        before_ready()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for port, process in processes:
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    logs = "\n".join(
                        (log_dir / f"gunicorn-{i}.log").read_text(encoding="utf-8")[-3000:]
                        for i in range(len(processes))
                    )
                    raise RuntimeError(f"gunicorn on port {port} did not start:\n{logs}")
                time.sleep(0.2)
        yield [port for port, _ in processes]
    finally:
        stopping = time.monotonic()
        for _, process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        deadline = time.monotonic() + 1
        for _, process in processes:
            try:
                process.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Still going (workers finishing a request): the whole group, at once. Nothing
                # of a throwaway server's is worth waiting for.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print(f"servers: stopped in {time.monotonic() - stopping:.1f} s", file=sys.stderr)


@contextlib.contextmanager
def shop_servers(
    *,
    count: int,
    workers: int = 2,
    threads: int = 1,
    trusted_proxy_count: int = 0,
    database_url: str | None = None,
) -> Iterator[list[int]]:
    """Migrate the database and collect the static files (into `STATIC_ROOT`), start the
    servers; yield their ports. DATABASE_URL and REDIS_URL come from scripts/test-services.sh
    (or `database_url` names another database on that server)."""
    database_url = database_url or os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        raise RuntimeError(
            "needs PostgreSQL and Redis: run under scripts/test-services.sh (DATABASE_URL, "
            "REDIS_URL)"
        )
    with tempfile.TemporaryDirectory(prefix="coinpurse-http.") as folder:
        env = server_env(
            database_url=database_url,
            redis_url=redis_url,
            static_root=STATIC_ROOT,
            trusted_proxy_count=trusted_proxy_count,
        )
        # The three overlap: the servers boot (no query) while the database migrates (or the
        # schema kept from an earlier run with the same migrations is loaded: tests/http/schema.py).
        started, took = time.monotonic(), []
        migrate = None
        if not schema_restore(database_url):
            migrate = manage(env, "migrate", "--noinput", "--skip-checks", "-v0")
        try:
            static_collect(env)
        except BaseException:
            if migrate is not None:
                migrate.kill()
            raise

        def migrated() -> None:
            if migrate is not None:
                finish(migrate)
                schema_keep(database_url)  # before any request writes a row
            took.append(time.monotonic() - started)

        with gunicorns(
            env,
            count=count,
            workers=workers,
            threads=threads,
            log_dir=Path(folder),
            before_ready=migrated,
        ) as ports:
            print(
                f"servers: {'migrated' if migrate else 'schema loaded'} ({took[0]:.1f} s), static "
                f"files collected and {count} "
                f"gunicorn started in {time.monotonic() - started:.1f} s (ports {ports})",
                file=sys.stderr,
                flush=True,
            )
            yield ports
