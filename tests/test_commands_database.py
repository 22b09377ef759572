"""Every management command of the shop on a database that is not migrated, or cannot be
reached, exits 1 with one line that says what to do, never a traceback (config/commands.py,
docs/interface.md §8); any other database error keeps its traceback."""

import os
import subprocess
from pathlib import Path

from django.apps import apps
from django.core.management import find_commands, load_command_class

from config.commands import ShopCommand
from tests.manage_process import manage_popen

SHOP_APPS = ("accounts", "catalog", "checkout", "promotions", "subscriptions", "wallet")


def _shop_commands() -> dict[str, str]:
    found = {}
    for label in SHOP_APPS:
        config = apps.get_app_config(label)
        for name in find_commands(str(Path(config.path) / "management")):
            found[name] = config.name
    return found


# What each command needs on its command line to get as far as the database.
ARGUMENTS = {
    "issue_giftcards": ["--count", "1", "--amount", "1", "--region", "US", "--output", "{out}"],
    "issue_promocodes": ["--promotion", "spring", "--count", "1", "--output", "{out}"],
    "run_schedule": ["--once"],
}


def _run_all(
    tmp_path: Path, database_url: str, names=None
) -> dict[str, subprocess.CompletedProcess]:
    """Every shop command (or those of `names`) at once, each a process of its own, against
    `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true", "REDIS_URL": ""}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    processes = {}
    for name in names or _shop_commands():
        out = tmp_path / f"{name}.csv"
        argv = [argument.format(out=out) for argument in ARGUMENTS.get(name, [])]
        processes[name] = manage_popen(name, *argv, env=env)
    results = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=180)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


def test_every_shop_command_is_a_shop_command():
    commands = _shop_commands()

    assert {"issue_giftcards", "wallet_reconcile", "run_schedule", "seed_demo"} <= set(commands)
    for name, app in commands.items():
        assert isinstance(load_command_class(app, name), ShopCommand), name


def test_on_a_database_never_migrated_every_command_says_run_migrate(tmp_path):
    database = tmp_path / "never-migrated.sqlite3"

    results = _run_all(tmp_path, f"sqlite:///{database}")

    for name, result in results.items():
        line = _one_line(result)
        assert "not migrated" in line, name
        assert "manage.py migrate" in line, name
    assert not list(tmp_path.glob("*.csv"))  # no command wrote its file


def test_on_a_database_nobody_serves_a_command_says_check_database_url(tmp_path):
    # Port 9 (discard) on this machine: nothing listens, the connection is refused at once.
    # (The same base class as above: two commands show it, the first query of each failing.)
    results = _run_all(
        tmp_path,
        "postgres://coinpurse:x@127.0.0.1:9/coinpurse",
        names=["wallet_reconcile", "issue_giftcards"],
    )

    for name, result in results.items():
        line = _one_line(result)
        assert "cannot reach the database" in line, name
        assert "DATABASE_URL" in line, name
