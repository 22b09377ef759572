"""scripts/test.sh's provision stage runs in the background (make test: the installs beside
.venv, the checks and the SQLite tests), with a stand-in for scripts/provision.sh
(COINPURSE_PROVISION): a stage that needs what it installs waits for it and fails as it failed,
and a run that ends first still waits for it (an install is never cut short)."""

import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _stand_in(folder: Path, *, seconds: float, code: int) -> tuple[Path, Path]:
    done = folder / "installed"
    script = folder / "provision.sh"
    script.write_text(
        f"#!/bin/sh\necho 'stand-in: installing'\nsleep {seconds}\ntouch '{done}'\nexit {code}\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script, done


def _run(script: Path, *stages: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "COINPURSE_PROVISION": str(script)}
    env.pop("COINPURSE_TEST_OUTCOMES", None)
    started = time.monotonic()
    run = subprocess.run(  # noqa: S603 (our own script)
        [str(ROOT / "scripts" / "test.sh"), *stages],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return run, time.monotonic() - started


def test_a_run_that_needs_nothing_installed_does_not_cut_the_install_short(tmp_path):
    script, done = _stand_in(tmp_path, seconds=2, code=0)
    run, seconds = _run(script, "provision", "format")
    assert run.returncode == 0, run.stdout + run.stderr
    # format took well under the install's two seconds; the run waited for the install.
    assert done.exists()
    assert seconds >= 2
    summary = run.stdout.split("make test: summary", 1)[1]
    assert "provision   ok" in summary
    assert "stand-in: installing" not in run.stdout  # nobody waited: its output is not needed


def test_a_stage_that_needs_the_install_waits_and_fails_as_it_failed(tmp_path):
    script, done = _stand_in(tmp_path, seconds=1, code=3)
    run, _ = _run(script, "provision", "format", "http")
    assert run.returncode == 1
    assert done.exists()
    assert "(provision, in the background: exit 3" in run.stdout
    assert "stand-in: installing" in run.stdout  # its output, where it was waited for
    assert "provision FAILED (exit code 3): this stage cannot run." in run.stderr
    summary = run.stdout.split("make test: summary", 1)[1]
    assert "provision   FAILED" in summary
    assert "http        FAILED" in summary
    # The http stage never started its servers.
    assert "services:" not in run.stdout + run.stderr


def test_a_failed_install_that_no_stage_needed_still_fails_the_run(tmp_path):
    script, done = _stand_in(tmp_path, seconds=1, code=5)
    run, _ = _run(script, "provision", "format")
    assert run.returncode == 1, run.stdout + run.stderr
    assert done.exists()
    assert "every stage passed" not in run.stdout
    summary = run.stdout.split("make test: summary", 1)[1]
    assert "provision   FAILED" in summary
    assert "stage 'provision' FAILED" in run.stderr
    assert "stand-in: installing" in run.stderr  # its output, since nobody showed it


def test_an_install_killed_before_its_exit_code_fails_the_stage_that_waits(tmp_path):
    # The stand-in kills its own subshell (the one that would write the exit code): the waiting
    # stage must not wait for ever, and fails with 1 (not the stage's own codes).
    script = tmp_path / "provision.sh"
    script.write_text("#!/bin/sh\nsleep 1\nkill -9 $PPID\n", encoding="utf-8")
    script.chmod(0o755)
    run, seconds = _run(script, "provision", "provision", "http")
    assert run.returncode == 1, run.stdout + run.stderr
    assert seconds < 60
    assert "(named twice: it runs once, in the background)" in run.stdout
    assert "provision FAILED (exit code 1): this stage cannot run." in run.stderr
    assert "stage 'http' FAILED (exit code 1)" in run.stderr
