"""config/gunicorn.py: the access log of a real gunicorn keeps no query string and no Referer
(a claim code typed into a URL must not reach a log: docs/interface.md §7)."""

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.http.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")
MARKER = "ZZZZ-SECRET-QUERY-9"


def _get(port: int, path: str, headers: dict) -> int:
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path, headers=headers)
            status = connection.getresponse().status
            connection.close()
            return status
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


def test_the_access_log_has_the_path_but_no_query_string_or_referer(tmp_path):
    port, log = free_port(), tmp_path / "access.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": "",
    }
    argv = [str(GUNICORN), "-c", "python:config.gunicorn", "config.wsgi"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log)]
    server = subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603 (the venv's gunicorn)
    try:
        status = _get(port, f"/healthz/?q={MARKER}", {"Referer": f"http://x/admin/?q={MARKER}"})
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert status == 200
    written = log.read_text(encoding="utf-8")
    assert '"GET /healthz/ HTTP/1.1" 200' in written
    assert MARKER not in written
