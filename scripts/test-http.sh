#!/usr/bin/env bash
# Usage: scripts/test-http.sh [PYTEST ARGS...]
#
# The limits and races over HTTP, across processes (the `http` stage of scripts/test.sh):
# starts a throwaway PostgreSQL and Redis (scripts/test-services.sh), migrates, starts two
# gunicorn processes on free ports of 127.0.0.1 with the production settings over plain HTTP
# (tests/http/servers.py, started by the session fixture of tests/http/conftest.py), and runs
# `pytest -m http tests/http/`: the parallel guessing test with its exact bounds (per account
# and per client address), the one-code race, the one-balance race and a replayed checkout
# form, each burst spread over both processes, the ledger reconciled after each. Everything
# stops when it ends, also when a test fails or the run is interrupted (the servers die with
# pytest; the services wrapper stops its servers). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || { echo "test-http: .venv is missing; run 'make test'" >&2; exit 1; }
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" # for -p pytest_every_test_ran
# Bytecode cached, as in scripts/test.sh: every process here imports the whole project.
unset PYTHONDONTWRITEBYTECODE

# Secrets of this run only, shared by the servers and the tests (sessions, code hashes).
random_secret() { python -c 'import secrets; print(secrets.token_urlsafe(48))'; }
SECRET_KEY=$(random_secret)
CODE_PEPPER=$(random_secret)
export SECRET_KEY CODE_PEPPER

timeout=${TEST_STAGE_TIMEOUT:-300}
exec scripts/test-services.sh timeout -s INT --kill-after=30 "$timeout" \
    python -m pytest -p pytest_every_test_ran -m http tests/http/ -q "$@"
