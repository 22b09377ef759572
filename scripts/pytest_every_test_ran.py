"""pytest plugin for `make test`: account for the tests that did not run and pass.

docs/interface.md §1: `make test` exits 0 only when every test ran and passed. Plain pytest exits 0
with
skipped or xfailed tests. This plugin lists them loudly at the end of each run and, when
COINPURSE_TEST_OUTCOMES names a file, appends `<outcome> <node id>` lines to it. scripts/test.sh
reads that file after the last pytest stage and fails when a test did not pass in *any* stage
(a test skipped on SQLite is fine when it passed on PostgreSQL). Tests of another stage are
deselected by `-m`, not skipped, and are not listed. Loaded with `-p pytest_every_test_ran`.
"""

import fcntl
import os

import pytest

_NOT_RUN = ("skipped", "xfailed", "xpassed")
_RECORDED = ("passed", "failed", "error", *_NOT_RUN)


def _stats(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter.stats if reporter is not None else {}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("COINPURSE_TEST_OUTCOMES")
    if not path or hasattr(session.config, "workerinput"):  # xdist: the controller records
        return
    stats = _stats(session.config)
    lines = [
        f"{outcome} {report.nodeid}\n"
        for outcome in _RECORDED
        for report in stats.get(outcome, [])
        if getattr(report, "nodeid", None)
    ]
    # Two stages may finish at once (scripts/test.sh runs two lanes): the file is locked while
    # this run's lines go in, so no line of one is split by the other's.
    with open(path, "a", encoding="utf-8") as outcomes:
        fcntl.flock(outcomes, fcntl.LOCK_EX)
        outcomes.write("".join(lines))
        outcomes.flush()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = _stats(config)
    not_run = [(kind, report) for kind in _NOT_RUN for report in stats.get(kind, [])]
    if not not_run:
        return
    terminalreporter.section("tests that did not run and pass here", sep="!", yellow=True)
    for kind, report in not_run:
        reason = getattr(report, "wasxfail", "") or ""
        if isinstance(report.longrepr, tuple):
            reason = report.longrepr[2]
        terminalreporter.write_line(f"{kind.upper()}: {report.nodeid} {reason}".rstrip())

    terminalreporter.write_line(
        "make test fails unless each of these passes in another stage (docs/interface.md §1: "
        "every test runs and passes). To run a test in one stage only, mark it (postgres, e2e); "
        "do not skip.",
        yellow=True,
        bold=True,
    )
