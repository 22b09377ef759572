"""issue_giftcards (docs/interface.md §8, issue #3) as a real `manage.py` process: exit codes,
stdout/stderr and signals. (The same command in-process, through `call_command`, on both
databases: tests/wallet/test_issue_giftcards_command.py.)

These tests run against a SQLite file of their own (DATABASE_URL), a copy of the migrated test
template (tests/db_template.py); they look into it with `sqlite3` and with `manage.py shell`
(redeeming codes the way a shopper would). They never touch the test database, so they run once,
in the SQLite stage (tests/conftest.py, RUN_ON_SQLITE_ONLY): in the PostgreSQL stage they would
run the same processes on the same SQLite file again."""

import datetime
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.db_template import sqlite_template
from tests.manage_process import MANAGE, manage_popen
from tests.wallet.test_issue_giftcards_command import (
    BAD_ARGUMENTS,
    CODE_SHAPE,
    _argv,
    _leaks,
    _read,
)
from wallet.codefile import HEADER

# One worker runs the whole module (scripts/test.sh: --dist loadgroup), so the module's
# database and its bad command lines are set up once, not once per worker.
pytestmark = pytest.mark.xdist_group("issue-giftcards-cli")


@dataclass
class Cli:
    folder: Path
    database: Path
    env: dict[str, str]

    def popen(self, *args: str, database: Path | None = None) -> subprocess.Popen:
        """`manage.py *args` on the module's database, or on another SQLite file."""
        env = self.env
        if database is not None:
            env = {**env, "DATABASE_URL": f"sqlite:///{database}"}
        return manage_popen(*args, env=env)

    def run(
        self, *args: str, timeout: float = 120, database: Path | None = None
    ) -> subprocess.CompletedProcess:
        process = self.popen(*args, database=database)
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def sql(self, query: str, params=()) -> list[tuple]:
        with sqlite3.connect(self.database, timeout=20) as connection:
            rows = connection.execute(query, params).fetchall()
        connection.close()
        return rows

    def redeem(self, codes: list[str], region: str) -> list[str]:
        """Redeem `codes` in that database, as a shopper of `region`; each one's outcome."""
        script = (
            "import json, os\n"
            "from accounts.models import User\n"
            "from tests.wallet.staff import redeem_outcome\n"
            "data = json.loads(os.environ['PROBE'])\n"
            "user, _ = User.objects.get_or_create(email=data['email'], "
            "defaults={'region_id': data['region']})\n"
            "print(json.dumps([redeem_outcome(user, code) for code in data['codes']]))\n"
        )
        email = f"probe-{time.monotonic_ns()}@example.com"
        process = subprocess.run(  # noqa: S603
            [sys.executable, MANAGE, "shell", "-c", script],
            env={
                **self.env,
                "PROBE": json.dumps({"codes": codes, "region": region, "email": email}),
            },
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(process.stdout.strip().splitlines()[-1])

    def counts(self) -> tuple[int, int]:
        (cards,) = self.sql("SELECT COUNT(*) FROM wallet_giftcard")[0]
        (batches,) = self.sql("SELECT COUNT(*) FROM wallet_giftcardbatch")[0]
        return cards, batches


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """A migrated SQLite database of its own (a copy of the test template), and how to run
    `manage.py` against it."""
    folder = tmp_path_factory.mktemp("issue-cli")
    database = folder / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": "",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    shutil.copyfile(sqlite_template(), database)
    return Cli(folder=folder, database=database, env=env)


def _naive_utc(*, hours_ago: int) -> str:
    """A timestamp as Django stores one in SQLite (UTC, no offset)."""
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=hours_ago)
    return moment.replace(tzinfo=None).isoformat(" ")


def _wait_for_codes(process: subprocess.Popen, output: Path, timeout: float = 120) -> list[str]:
    """Wait until the running command has written some codes to `output`; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the command ended before it was interrupted"
        if output.exists() and output.stat().st_size > 10_000:
            lines = output.read_text(encoding="utf-8").splitlines()
            return [line.split(",")[0] for line in lines[1:-1]]  # the last may be partial
        time.sleep(0.05)
    process.kill()
    pytest.fail("no code was written in time")


def test_cli_happy_path_prints_one_line_and_no_code(cli):
    output = cli.folder / "happy.csv"

    run = cli.run(
        "issue_giftcards", "--count", "25", "--amount", "1000", "--region", "JP",
        "--output", str(output), "--batch-name", "cli-jp",
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no progress bar when stderr is not a terminal
    assert len(run.stdout.splitlines()) == 1
    assert run.stdout.endswith("\n")
    assert run.stdout.startswith("Issued 25 cards of 1000 JPY in region JP (batch 'cli-jp'")
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    header, rows = _read(output)
    assert header == ",".join(HEADER)
    assert len(rows) == 25
    assert all(CODE_SHAPE.match(row["code"]) for row in rows)
    assert {(r["amount"], r["currency"], r["region"], r["batch"]) for r in rows} == {
        ("1000", "JPY", "JP", "cli-jp")
    }
    codes = [row["code"] for row in rows]
    assert _leaks(codes, run.stdout + run.stderr) == []
    assert cli.sql("SELECT status, card_count FROM wallet_giftcardbatch WHERE name = 'cli-jp'") == [
        ("issued", 25)
    ]
    assert cli.redeem(codes, "JP") == ["redeemed"] * 25
    reconcile = cli.run("wallet_reconcile")
    assert reconcile.returncode == 0, reconcile.stdout
    assert reconcile.stdout.startswith("Ledger clean")


CLI_BAD = {
    **{case: _argv(overrides) for case, overrides in BAD_ARGUMENTS.items()},
    "missing-count": ["--amount", "25.00", "--region", "US"],
    "missing-amount": ["--count", "3", "--region", "US"],
    "missing-region": ["--count", "3", "--amount", "25.00"],
    "existing-output": _argv({}),
    "missing-folder": _argv({}),
}


@pytest.fixture(scope="module")
def cli_bad_runs(cli):
    """Every bad command line, run at once (each is a process of its own)."""
    folder = cli.folder / "bad"
    folder.mkdir()
    (folder / "existing-output").mkdir()
    existing = folder / "existing-output" / "codes.csv"
    existing.write_text("precious,data\n", encoding="utf-8")
    existing_stat = existing.stat()
    before = cli.counts()
    outputs, processes = {}, {}
    for case, argv in CLI_BAD.items():
        if case == "missing-folder":
            output = folder / "nowhere" / "codes.csv"
        else:
            (folder / case).mkdir(exist_ok=True)
            output = folder / case / "codes.csv"
        outputs[case] = output
        processes[case] = cli.popen("issue_giftcards", *argv, "--output", str(output))
    results = {}
    for case, process in processes.items():
        out, err = process.communicate(timeout=180)
        results[case] = (process.returncode, out, err)
    return {
        "results": results,
        "outputs": outputs,
        "before": before,
        "after": cli.counts(),
        "existing": (existing, existing_stat),
    }


@pytest.mark.parametrize("case", CLI_BAD.keys())
def test_cli_bad_argument_exits_non_zero_with_one_line_and_writes_nothing(cli_bad_runs, case):
    returncode, out, err = cli_bad_runs["results"][case]
    output = cli_bad_runs["outputs"][case]

    assert returncode != 0
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.strip()
    assert "Traceback" not in err
    if case == "existing-output":
        existing, before = cli_bad_runs["existing"]
        assert existing.read_text(encoding="utf-8") == "precious,data\n"
        assert existing.stat().st_mtime_ns == before.st_mtime_ns
        assert "already exists" in err
    else:
        assert not output.exists()
        assert not output.parent.exists() or list(output.parent.iterdir()) == []
    # No card and no batch from any of the bad runs.
    assert cli_bad_runs["after"] == cli_bad_runs["before"]


def test_cli_sigterm_mid_run_exits_non_zero_and_leaves_no_redeemable_card(cli):
    output = cli.folder / "terminated.csv"
    process = cli.popen(
        "issue_giftcards", "--count", "300000", "--amount", "5.00", "--region", "US",
        "--output", str(output), "--batch-name", "terminated",
    )  # fmt: skip
    seen = _wait_for_codes(process, output)

    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 1
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert "interrupted" in err
    assert "none of its cards can be redeemed" in err
    assert not output.exists()
    assert _leaks(seen, out + err) == []
    ((batch_id, status, cards_in_batch),) = cli.sql(
        "SELECT b.id, b.status, (SELECT COUNT(*) FROM wallet_giftcard c WHERE c.batch_id = b.id) "
        "FROM wallet_giftcardbatch b WHERE b.name = 'terminated'"
    )
    assert status == "failed"
    assert 0 < cards_in_batch < 300000
    assert len(seen) >= 100
    assert set(cli.redeem(seen[:15] + seen[-15:], "US")) == {"disabled"}
    assert cli.sql(
        "SELECT COUNT(*) FROM wallet_transfer WHERE idempotency_key = ?",
        (f"giftcard-batch-issue:{batch_id}",),
    ) == [(0,)]


def test_cli_killed_run_is_reported_by_the_next_run(cli):
    output = cli.folder / "killed.csv"
    process = cli.popen(
        "issue_giftcards", "--count", "300000", "--amount", "5.00", "--region", "US",
        "--output", str(output), "--batch-name", "killed",
    )  # fmt: skip
    seen = _wait_for_codes(process, output)

    process.kill()  # SIGKILL: no clean-up of any kind runs
    process.communicate(timeout=60)

    ((batch_id, status),) = cli.sql(
        "SELECT id, status FROM wallet_giftcardbatch WHERE name = 'killed'"
    )
    assert status == "issuing"
    assert set(cli.redeem(seen[:10], "US")) == {"disabled"}
    # Two hours later, the next run names it and marks it failed.
    cli.sql(
        "UPDATE wallet_giftcardbatch SET heartbeat_at = ? WHERE id = ?",
        (_naive_utc(hours_ago=2), batch_id),
    )
    run = cli.run(
        "issue_giftcards", "--count", "2", "--amount", "1", "--region", "US",
        "--output", str(cli.folder / "after-kill.csv"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert f"'killed' (#{batch_id}) was interrupted" in run.stderr
    assert cli.sql("SELECT status FROM wallet_giftcardbatch WHERE id = ?", (batch_id,)) == [
        ("failed",)
    ]
    assert set(cli.redeem(seen[-10:], "US")) == {"disabled"}


def test_cli_producer_killed_mid_run_exits_non_zero_and_leaves_no_redeemable_card(cli):
    """The second process that makes the codes dies (the OOM killer, a stray kill -9): the
    command notices at once, and it is the same clean stop as an interruption."""
    output = cli.folder / "producer-killed.csv"
    process = cli.popen(
        "issue_giftcards", "--count", "300000", "--amount", "5.00", "--region", "US",
        "--output", str(output), "--batch-name", "producer-killed",
    )  # fmt: skip
    seen = _wait_for_codes(process, output)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert len(children) == 1, children

    os.kill(int(children[0]), signal.SIGKILL)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 1
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert "code generator stopped" in err
    assert "none of its cards can be redeemed" in err
    assert not output.exists()
    ((batch_id, status),) = cli.sql(
        "SELECT id, status FROM wallet_giftcardbatch WHERE name = 'producer-killed'"
    )
    assert status == "failed"
    assert set(cli.redeem(seen[:10] + seen[-10:], "US")) == {"disabled"}
    assert cli.sql(
        "SELECT COUNT(*) FROM wallet_transfer WHERE idempotency_key = ?",
        (f"giftcard-batch-issue:{batch_id}",),
    ) == [(0,)]


def test_cli_on_a_database_not_migrated_exits_non_zero_with_one_line(cli):
    """An operator who forgot `migrate` (or points DATABASE_URL at the wrong file) is told so
    in one line, not with a traceback."""
    output = cli.folder / "not-migrated.csv"
    process = cli.run(
        "issue_giftcards", *_argv({}), "--output", str(output),
        database=cli.folder / "not-migrated.sqlite3",
    )  # fmt: skip

    assert process.returncode == 1
    assert process.stdout == ""
    assert len(process.stderr.splitlines()) == 1, process.stderr
    assert "Traceback" not in process.stderr
    assert "manage.py migrate" in process.stderr
    assert not output.exists()
