#!/usr/bin/env bash
# Usage: scripts/test.sh [STAGE...]     (no STAGE: all of them, in this order)
#
#   provision   install chromium, redis-server, postgresql where missing (scripts/provision.sh);
#               with other stages after it, in the background: the checks and the SQLite tests
#               need none of it and run meanwhile, and each stage that does (postgres, http,
#               e2e…) waits for it first (on a fresh machine the installs take minutes)
#   lint        ruff check .
#   format      ruff format --check .
#   migrations  manage.py makemigrations --check --dry-run
#   deploy      manage.py check --deploy --fail-level WARNING, with production-like settings
#   bandit      bandit -c pyproject.toml -r .   (every severity)
#   sqlite      pytest -m "not postgres and not e2e"                     on SQLite
#   postgres    pytest -m "not e2e"     on a throwaway PostgreSQL + Redis (scripts/test-services.sh)
#   sqlite+postgres  the two stages above at once (they share two cores well)
#   e2e         pytest -m e2e -n 2      browser journeys in Chromium, on SQLite (two workers)
#   e2e-pages   the e2e stage's page sweeps only (every shopper page at desktop and phone
#               widths through axe-core: E2E_PAGES below)
#   e2e-journeys  the e2e stage without them
#   http        pytest -m http over HTTP: two gunicorn processes, one PostgreSQL + Redis
#               (scripts/test-http.sh: the guessing bounds and the races across processes)
#   e2e+http    the two stages above at once (both mostly wait on their servers)
#   tests       the default: sqlite, http and e2e-pages, beside postgres and e2e-journeys (two
#               lanes at once)
#   all-ran     every test skipped (or xfailed) in one pytest stage passed in another
#               (last of the default stages; meaningful after sqlite, postgres and e2e)
#
# Stops at the first failing stage, prints how long each stage took, and exits non-zero when
# any stage failed. A pytest run that collects no test fails too (pytest's exit code 5): every
# test must run and pass (docs/interface.md §1). A pytest stage still running after TEST_STAGE_TIMEOUT
# seconds (default 1500) is stopped and fails, so a deadlocked race test cannot hang CI. The
# default leaves room for a host at half speed (3 Dec 2026: the SQLite stage took 917 s, green).
# First it makes sure .venv holds the project's dependencies (scripts/venv.sh, cheap when
# nothing changed), with the provision stage already running beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

all_stages=(provision lint format migrations deploy bandit tests all-ran)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all_stages[@]}")

COINPURSE_TEST_OUTCOMES=
times_file=
warm_pid=
# The provision stage in the background: its output, and its exit code once it has ended.
provision_log=$(mktemp "${TMPDIR:-/tmp}/coinpurse-provision.XXXXXX")
provision_rc="$provision_log.rc"
provision_pid=
# What the provision stage runs (tests/test_make_test.py puts a stand-in here).
provision_script=${COINPURSE_PROVISION:-scripts/provision.sh}
# An install is never cut short (dpkg would be left half-done): a run that ends early waits.
trap 'rm -f "$COINPURSE_TEST_OUTCOMES" "$times_file"; [ -z "$warm_pid" ] || kill "$warm_pid" 2> /dev/null || true
[ -z "$provision_pid" ] || wait "$provision_pid" 2> /dev/null || true
rm -rf "$provision_log" "$provision_rc" "$provision_log.shown"' EXIT
if [ "${stages[0]}" = provision ] && [ ${#stages[@]} -gt 1 ]; then
    # In the background (see the usage above): its time and output show where it is waited for.
    (
        set +e
        began=$(date +%s.%N)
        "$provision_script" > "$provision_log" 2>&1
        echo "$? $(awk -v s="$began" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}')" \
            > "$provision_rc"
    ) &
    provision_pid=$!
fi

scripts/venv.sh
export PATH="$root/.venv/bin:$PATH"
export PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}" # for -p pytest_every_test_ran
# Bytecode is cached (in __pycache__ folders, which git ignores), also when the caller's
# environment says not to: otherwise every pytest process compiles the project again and
# rewrites the asserts of every test module (collecting takes 13 s of CPU instead of 5, and a
# run starts seven of them).
unset PYTHONDONTWRITEBYTECODE
mkdir -p var

# Each pytest stage appends its outcomes here (scripts/pytest_every_test_ran.py) for all-ran.
COINPURSE_TEST_OUTCOMES=$(mktemp "${TMPDIR:-/tmp}/coinpurse-outcomes.XXXXXX")
export COINPURSE_TEST_OUTCOMES
times_file=$(mktemp "${TMPDIR:-/tmp}/coinpurse-times.XXXXXX")

# Before a stage that needs what the provision stage installs: when that runs in the background,
# wait for it to end (from either lane of `tests`: it polls the exit code's file), show its
# output (once), and fail as it failed.
provision_wait() {
    [ -n "$provision_pid" ] || return 0
    local waited=0
    # Until it writes its exit code, or ends without one (killed): never a wait without end.
    while [ ! -s "$provision_rc" ] && kill -0 "$provision_pid" 2> /dev/null; do
        sleep 1
        waited=$((waited + 1))
    done
    local rc=1 seconds=?
    [ ! -s "$provision_rc" ] || read -r rc seconds < "$provision_rc"
    echo "(provision, in the background: exit $rc after $seconds s; waited for it $waited s)"
    # Its output once, in the log of the first stage to wait (mkdir: one of the lanes wins).
    ! mkdir "$provision_log.shown" 2> /dev/null || cat "$provision_log"
    [ "$rc" -eq 0 ] || {
        echo "!!! provision FAILED (exit code $rc): this stage cannot run." >&2
        # 1, whatever its code: the stage's own codes (5: no test collected, 124: timed out)
        # would tell a wrong story.
        return 1
    }
}

# The first pytest stage starts four processes at once, and each would fill that cache itself:
# when other stages come first (lint …), one collection in the background fills it meanwhile,
# and the first pytest stage waits for it (its time counts in that stage's).
pytest_stages=" sqlite postgres sqlite+postgres e2e e2e-pages e2e-journeys e2e+http tests "
for stage in "${stages[@]:1}"; do
    [[ $pytest_stages == *" ${stages[0]} "* ]] && break
    if [[ $pytest_stages == *" $stage "* ]]; then
        env DATABASE_URL=sqlite://:memory: REDIS_URL= timeout 300 python -m pytest --collect-only -qq \
            > /dev/null 2>&1 &
        warm_pid=$!
        break
    fi
done

# What a stage on SQLite sees, whatever a developer's .env says: the embedded database and the
# local-memory cache (pytest-django puts the test database in memory).
sqlite_env=(DATABASE_URL="sqlite:///$root/var/db.sqlite3" REDIS_URL=)
# A pytest run still going after TEST_STAGE_TIMEOUT seconds gets SIGINT, as from Ctrl-C, so pytest
# shows where it was stuck; SIGKILL 30 s later if it is still there. (Inside the services
# wrapper, so the wrapper itself is never killed and always stops its servers.)
stage_timeout=${TEST_STAGE_TIMEOUT:-1500}
pytest_cmd=(timeout -s INT --kill-after=30 "$stage_timeout" python -m pytest -p pytest_every_test_ran)

random_secret() { python -c 'import secrets; print(secrets.token_urlsafe(48))'; } # 64 chars

# The browser tests' page sweeps (e2e-pages), the rest being journeys (e2e-journeys).
E2E_PAGES=(tests/e2e/test_a11y_pages.py tests/e2e/test_a11y_phone_and_yen.py)

# pytest-playwright keeps an event loop alive in the main thread; Django's async guard would
# refuse even the test database set-up without DJANGO_ALLOW_ASYNC_UNSAFE.
# Two workers, each with its own live server, database and Chromium: a journey mostly waits on
# its browser, so two overlap (205 s alone, 156 s as two; four saturate the two cores and take
# longer, 192 s).
# A failure's screenshots go to var/test-results/<stage> (the two halves may run at once).
e2e_run() {
    local stage=$1
    shift
    env "${sqlite_env[@]}" DJANGO_ALLOW_ASYNC_UNSAFE=true \
        "${pytest_cmd[@]}" "$@" -n "${E2E_WORKERS:-2}" \
        --screenshot only-on-failure --output "var/test-results/$stage"
}

# Runs two stages at once (each in the background, its log and its own time kept apart) and
# shows each one's log and time when both are done; either failing fails.
stages_together() {
    local logs rc_first=0 rc_second=0 pid_first pid_second
    logs=$(mktemp -d "${TMPDIR:-/tmp}/coinpurse-stages.XXXXXX")
    timed_stage "$1" "$logs/first" &
    pid_first=$!
    timed_stage "$2" "$logs/second" &
    pid_second=$!
    wait "$pid_first" || rc_first=$?
    wait "$pid_second" || rc_second=$?
    echo "-------------------- $1 (exit $rc_first: $(cat "$logs/first.time")) --------------------"
    cat "$logs/first.log"
    echo "-------------------- $2 (exit $rc_second: $(cat "$logs/second.time")) --------------------"
    cat "$logs/second.log"
    lane_times+=("$(cat "$logs/first.time")" "$(cat "$logs/second.time")")
    rm -rf "$logs"
    [ "$rc_first" -eq 0 ] || return "$rc_first"
    return "$rc_second"
}

# The CPU seconds (user + system) of this shell's finished child processes so far: a stage's
# own CPU, which a host busy with other work moves much less than its time. (A server that
# detaches, such as PostgreSQL, is not a child: scripts/test-services.sh prints its own.)
# Sets REPLY: `times` must run in this shell (a $(…) subshell has no finished children).
children_cpu() {
    times > "$times_file"
    REPLY=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.2f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$times_file")
}

# Runs the stages of a lane ("postgres,e2e,http": one after the other, stopping at the first
# failing one) into "$2.log", and each one's time into "$2.time".
timed_stage() {
    local stage start cpu rc=0 times=()
    : > "$2.log"
    for stage in ${1//,/ }; do
        start=$(date +%s.%N)
        children_cpu
        cpu=$REPLY
        echo "==================== $stage ====================" >> "$2.log"
        stage_cmd "$stage" >> "$2.log" 2>&1 || rc=$?
        children_cpu
        times+=("$stage $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s \
(CPU $(awk -v s="$cpu" -v e="$REPLY" 'BEGIN{printf "%.0f", e-s}') s)")
        [ "$rc" -eq 0 ] || break
    done
    (
        IFS=,
        echo "${times[*]}"
    ) > "$2.time"
    return "$rc"
}

stage_cmd() {
    case "$1" in
        provision) "$provision_script" ;;
        lint) ruff check . ;;
        format) ruff format --check . ;;
        migrations)
            env "${sqlite_env[@]}" DATABASE_URL=sqlite://:memory: DEBUG=true \
                python manage.py makemigrations --check --dry-run
            ;;
        deploy)
            # Production-like: DEBUG off, real secrets, a real host name, the shared cache.
            env "${sqlite_env[@]}" DATABASE_URL=sqlite://:memory: DEBUG=false \
                SECRET_KEY="$(random_secret)" CODE_PEPPER="$(random_secret)" \
                ALLOWED_HOSTS=shop.example REDIS_URL=redis://127.0.0.1:6379/0 \
                EMAIL_URL=smtp+tls://shop:secret@mail.example:587 \
                python manage.py check --deploy --fail-level WARNING
            ;;
        bandit) bandit -c pyproject.toml -r . -q ;;
        sqlite)
            # Two workers, each with its own in-memory test database (2 min instead of 5).
            # loadgroup: a module marked xdist_group runs on one worker (its module fixtures once).
            env "${sqlite_env[@]}" "${pytest_cmd[@]}" -m "not postgres and not e2e" \
                -n "${SQLITE_WORKERS:-2}" --dist loadgroup
            ;;
        # Two workers: most PostgreSQL tests wait on locks, barriers or the server, not the CPU.
        postgres)
            provision_wait || return $?
            scripts/test-services.sh "${pytest_cmd[@]}" -m "not e2e and not http" -n "${PG_WORKERS:-2}"
            ;;
        # Two stages at once, each writing its own log, shown whole when both are done;
        # either failing fails. The SQLite run is CPU-bound while the PostgreSQL run mostly
        # waits on its server; the browser journeys mostly wait on Chromium while the http
        # stage waits on its servers: on two cores each pair overlaps well.
        sqlite+postgres) stages_together sqlite postgres ;;
        e2e+http) stages_together e2e http ;;
        # The default: two lanes at once, balanced by their measured times (a clean clone,
        # 4 Dec 2026: sqlite 438 s then http 25 s, beside postgres 403 s then e2e 144 s, of
        # which the page sweeps are a quarter), each lane's next stage starting as soon as its
        # last one ends instead of waiting for the other lane.
        tests) stages_together sqlite,http,e2e-pages postgres,e2e-journeys ;;
        e2e) provision_wait && e2e_run e2e -m e2e ;;
        e2e-pages) provision_wait && e2e_run e2e-pages -m e2e "${E2E_PAGES[@]}" ;;
        e2e-journeys) provision_wait && e2e_run e2e-journeys -m e2e "${E2E_PAGES[@]/#/--ignore=}" ;;
        # Its own servers and services (tests/http/ is marked http and postgres: the database
        # stages deselect it).
        http) provision_wait && scripts/test-http.sh ;;
        all-ran)
            python - "$COINPURSE_TEST_OUTCOMES" << 'PY'
import sys
from collections import defaultdict

outcomes = defaultdict(set)
with open(sys.argv[1], encoding="utf-8") as lines:
    for line in lines:
        outcome, nodeid = line.rstrip("\n").split(" ", 1)
        outcomes[nodeid].add(outcome)
never_passed = sorted(nodeid for nodeid, seen in outcomes.items() if "passed" not in seen)
for nodeid in never_passed:
    print(f"NOT RUN AND PASSED IN ANY STAGE: {nodeid} ({', '.join(sorted(outcomes[nodeid]))})")
print(f"{len(outcomes)} tests, {len(outcomes) - len(never_passed)} passed in some stage")
sys.exit(1 if never_passed or not outcomes else 0)
PY
            ;;
        *)
            echo "test: unknown stage '$1' (stages: ${all_stages[*]})" >&2
            return 2
            ;;
    esac
}

names=()
times=()
results=()
cpus=() # each stage's CPU seconds (its processes', the servers that detach excepted)
lane_times=() # each lane's stages and their times, from the stages run two at once
summary() {
    echo
    echo "==================== make test: summary ===================="
    local i rc seconds
    # The run's end: the provision stage in the background ends first (never cut short).
    [ -z "$provision_pid" ] || wait "$provision_pid" 2> /dev/null || true
    for i in "${!names[@]}"; do
        # The provision stage in the background: its outcome and time once it has ended.
        if [ "${results[$i]}" = started ] && [ -s "$provision_rc" ]; then
            read -r rc seconds < "$provision_rc"
            results[i]=$([ "$rc" -eq 0 ] && echo ok || echo FAILED)
            times[i]=$seconds
        fi
        printf '  %-11s %-8s %7.1f s   (CPU %4.0f s)\n' "${names[$i]}" "${results[$i]}" "${times[$i]}" \
            "${cpus[$i]}"
    done
    for i in "${!lane_times[@]}"; do
        printf '    lane %d: %s\n' "$((i + 1))" "${lane_times[$i]}"
    done
    printf '  %-11s %-8s %7.1f s\n' total "" "$(awk -v s="$run_start" -v e="$(date +%s.%N)" 'BEGIN{print e-s}')"
}

run_start=$(date +%s.%N)
for stage in "${stages[@]}"; do
    echo
    echo "==================== stage: $stage ===================="
    start=$(date +%s.%N)
    children_cpu
    cpu=$REPLY
    if [ "$stage" = provision ] && [ -n "$provision_pid" ]; then
        if [ ${#names[@]} -gt 0 ]; then
            echo "(named twice: it runs once, in the background)"
            continue
        fi
        echo "(in the background since the start, beside the stages that need none of it)"
        names+=("$stage")
        times+=(0)
        cpus+=(0)
        results+=(started)
        continue
    fi
    if [ -n "$warm_pid" ] && [[ $pytest_stages == *" $stage "* ]]; then
        wait "$warm_pid" || true # a collection error shows in the stage itself
        warm_pid=
    fi
    set +e
    stage_cmd "$stage"
    rc=$?
    set -e
    names+=("$stage")
    times+=("$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{print e-s}')")
    children_cpu
    cpus+=("$(awk -v s="$cpu" -v e="$REPLY" 'BEGIN{print e-s}')")
    if [ "$rc" -eq 0 ]; then
        results+=(ok)
        continue
    fi
    results+=("FAILED")
    summary
    echo
    case "$stage:$rc" in
        *:5)
            echo "!!! stage '$stage' FAILED: pytest collected no test (exit code 5)." \
                "A stage that runs nothing proves nothing." >&2
            ;;
        *:124 | *:137)
            echo "!!! stage '$stage' FAILED: still running after ${stage_timeout}s, stopped" \
                "(TEST_STAGE_TIMEOUT). A test hangs, or the suite got too slow." >&2
            ;;
        *) echo "!!! stage '$stage' FAILED (exit code $rc); later stages did not run." >&2 ;;
    esac
    exit 1
done
summary
echo
# The provision stage in the background may have failed with no later stage needing it.
for result in "${results[@]}"; do
    if [ "$result" != ok ]; then
        echo "!!! stage 'provision' FAILED: see its log above (scripts/provision.sh)." >&2
        ! mkdir "$provision_log.shown" 2> /dev/null || cat "$provision_log" >&2
        exit 1
    fi
done
echo "make test: every stage passed."
