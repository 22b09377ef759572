# Coinpurse: the two set-up commands (README.md) and a few shortcuts for developers.
#
#   make run         .venv + dependencies, migrate var/db.sqlite3, demo data, serve 127.0.0.1:$(PORT)
#                    with the background worker and the scheduler beside it (docs/worker.md)
#   make test        provision PostgreSQL/Redis/Chromium where missing, then every check and test
#   make lint        ruff, migrations, check --deploy, bandit (no tests)
#   make test-fast   the SQLite tests only (no PostgreSQL, Redis or browser)
#   make test-pg     the PostgreSQL + Redis run only;  make test-e2e  the browser tests only
#   make bench       every bench/*.py, on SQLite and a throwaway PostgreSQL (BENCH_ARGS="--count 100000")

SHELL := /bin/bash
PORT ?= 8000
PYTHON := .venv/bin/python

.DEFAULT_GOAL := help
.PHONY: help venv run test lint test-fast test-pg test-e2e bench clean

help:
	@sed -n 's/^#   //p' Makefile

# Cheap when nothing changed: scripts/venv.sh re-installs only when pyproject.toml changed.
venv:
	@scripts/venv.sh

# Links in the shop's e-mails and printed cards point at the server make run starts.
SITE_URL ?= http://127.0.0.1:$(PORT)

run: venv
	@mkdir -p var
	DEBUG=true $(PYTHON) manage.py migrate --noinput
	DEBUG=true $(PYTHON) manage.py seed_demo
	@# The worker and the scheduler run beside the server (docs/worker.md); Ctrl-C (or the
	@# end of make) stops all three: the trap stops the two in the background.
	@export SITE_URL="$(SITE_URL)"; \
	DEBUG=true $(PYTHON) manage.py db_worker --no-reload --interval 2 & worker=$$!; \
	DEBUG=true $(PYTHON) manage.py run_schedule & schedule=$$!; \
	trap 'kill -TERM $$worker $$schedule 2>/dev/null; wait $$worker $$schedule 2>/dev/null' EXIT INT TERM; \
	DEBUG=true $(PYTHON) manage.py runserver 127.0.0.1:$(PORT)

# scripts/test.sh makes sure of .venv itself (scripts/venv.sh), while the provision stage's
# installs already run beside it.
test:
	@scripts/test.sh

lint:
	@scripts/test.sh lint format migrations deploy bandit

test-fast:
	@scripts/test.sh sqlite

test-pg:
	@scripts/test.sh provision postgres

test-e2e:
	@scripts/test.sh provision e2e

# Benchmarks print figures; they pass or fail only by crashing. Each gets its own throwaway
# PostgreSQL + Redis (DATABASE_URL, REDIS_URL), as in make test.
bench: venv
	@scripts/provision.sh
	@for bench in bench/[!_]*.py; do \
		echo "==================== $$bench ===================="; \
		scripts/test-services.sh $(PYTHON) "$$bench" $(BENCH_ARGS) || exit 1; \
	done

# Removes what make created (the virtualenv and the test screenshots); keeps var/db.sqlite3.
clean:
	rm -rf .venv var/test-results build *.egg-info
