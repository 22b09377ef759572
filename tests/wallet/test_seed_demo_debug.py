"""`seed_demo` refuses without DEBUG (docs/interface.md §9): the demo users' passwords are
published, one of them a superuser's, so a production database must never get them."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from catalog.models import Product
from wallet.models import GiftCard

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_when_debug_is_off_and_writes_nothing(settings, tmp_path):
    settings.DEBUG = False
    code_file = tmp_path / "demo-codes.csv"

    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", "--code-file", str(code_file))

    assert not code_file.exists()
    assert not User.objects.exists()
    assert not GiftCard.objects.exists()
    assert not Product.objects.exists()


def test_seed_demo_still_runs_with_debug_on(settings, tmp_path):
    settings.DEBUG = True
    code_file = tmp_path / "demo-codes.csv"

    call_command("seed_demo", "--code-file", str(code_file), stdout=io.StringIO())

    assert code_file.exists()
    assert User.objects.filter(email="admin@example.com", is_superuser=True).exists()


def test_manage_py_seed_demo_without_debug_exits_non_zero_with_one_line(tmp_path):
    """As an operator would run it on a production host: DEBUG off, real secrets. The
    refusal comes before anything opens the database: not even its file appears."""
    database = tmp_path / "db.sqlite3"
    code_file = tmp_path / "demo-codes.csv"
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "CODE_PEPPER": "p" * 50,
        "REDIS_URL": "redis://127.0.0.1:9/0",  # required with DEBUG off; never reached here
        "DATABASE_URL": f"sqlite:///{database}",
    }

    result = subprocess.run(  # noqa: S603  (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", "seed_demo", "--code-file", str(code_file)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "seed_demo refused: DEBUG is off" in result.stderr
    assert not code_file.exists()
    assert not database.exists()
