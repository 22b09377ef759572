"""`manage.py` as a real process, for the tests of what an operator sees (its exit status, its
stdout and stderr as text, never a terminal's input)."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def manage_popen(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """`manage.py *args` started with `env`, from the repository's folder."""
    return subprocess.Popen(  # noqa: S603  (our own manage.py, arguments from the test)
        [sys.executable, MANAGE, *args],
        env=env,
        cwd=settings.BASE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
