#!/usr/bin/env bash
# Usage: scripts/test-services.sh COMMAND [ARGS...]
#
# Starts a throwaway PostgreSQL cluster and a throwaway Redis, each on a free port of 127.0.0.1
# (never 5432/5433: a shared machine may run its own servers there), runs COMMAND with
# DATABASE_URL and REDIS_URL pointing at them, then stops both and deletes their files -- also
# when COMMAND fails or the run is interrupted. Exits with COMMAND's exit code.
#
# PostgreSQL: initdb into a fresh temporary folder, fsync off (the data is thrown away), a role
# `coinpurse` with CREATEDB (pytest-django creates the test databases) and a random password.
# initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

say() { echo "services: $*" >&2; }
die() {
    say "$*"
    exit 1
}

pg_bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)}
[ -x "$pg_bindir/initdb" ] || die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (run scripts/provision.sh)"
command -v redis-server > /dev/null || die "redis-server is not installed (run scripts/provision.sh)"

if [ "$(id -u)" -eq 0 ]; then
    id postgres > /dev/null 2>&1 || die "running as root but there is no 'postgres' user to run PostgreSQL as"
    # From /: the postgres user may not be allowed into the current folder (a mktemp clone).
    as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
    as_pg() { "$@"; }
fi

free_port() {
    # The kernel hands out an unused port from its ephemeral range (far above 5432/5433).
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Leftovers of an earlier run that was killed outright (SIGKILL skips the clean-up below): stop
# the servers it started and delete its folder. Only folders of this script whose owner is gone.
for old in "${TMPDIR:-/tmp}"/coinpurse-services.*; do
    [ -f "$old/owner.pid" ] || continue
    kill -0 "$(cat "$old/owner.pid")" 2> /dev/null && continue
    say "removing the leftovers of an interrupted run: $old"
    if [ -f "$old/pg/data/postmaster.pid" ]; then
        as_pg "$pg_bindir/pg_ctl" stop -D "$old/pg/data" -m immediate -w > /dev/null 2>&1 || true
    fi
    if [ -f "$old/redis.pid" ]; then
        kill "$(cat "$old/redis.pid")" 2> /dev/null || true
    fi
    rm -rf "$old"
done

workdir=$(mktemp -d "${TMPDIR:-/tmp}/coinpurse-services.XXXXXX")
echo $$ > "$workdir/owner.pid"
pg_dir=$workdir/pg
chmod 711 "$workdir" # the postgres user must be able to reach its folder inside
redis_pidfile=$workdir/redis.pid
pg_started=
redis_port=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$pg_started" ]; then
        # The server's own CPU (it and its finished backends), which the caller's does not count.
        local postmaster
        postmaster=$(head -n 1 "$pg_dir/data/postmaster.pid" 2> /dev/null || true)
        if [ -n "$postmaster" ] && [ -r "/proc/$postmaster/stat" ]; then
            awk -v tick="$(getconf CLK_TCK)" '{ sub(/^.*\) /, "")
                printf "services: PostgreSQL used %.0f s of CPU\n", ($12 + $13 + $14 + $15) / tick }' \
                "/proc/$postmaster/stat" >&2 || true
        fi
        as_pg "$pg_bindir/pg_ctl" stop -D "$pg_dir/data" -m immediate -w > /dev/null 2>&1 || true
    fi
    if [ -f "$redis_pidfile" ]; then
        kill "$(cat "$redis_pidfile")" 2> /dev/null || true
        for _ in $(seq 50); do
            kill -0 "$(cat "$redis_pidfile" 2> /dev/null)" 2> /dev/null || break
            sleep 0.1
        done
    fi
    rm -rf "$workdir"
    say "stopped PostgreSQL and Redis, removed $workdir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PostgreSQL -------------------------------------------------------------------------------
mkdir -p "$pg_dir"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$pg_dir"
chmod 700 "$pg_dir"
as_pg "$pg_bindir/initdb" -D "$pg_dir/data" -U postgres -E UTF8 --locale=C --no-sync \
    --auth-local=trust --auth-host=scram-sha-256 > "$workdir/initdb.log" 2>&1 \
    || { cat "$workdir/initdb.log" >&2; die "initdb failed"; }

pg_port=
for attempt in 1 2 3; do
    port=$(free_port)
    if as_pg "$pg_bindir/pg_ctl" start -D "$pg_dir/data" -w -t 30 -l "$pg_dir/server.log" \
        -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" > /dev/null; then
        pg_port=$port
        pg_started=1
        break
    fi
    say "PostgreSQL did not start on port $port (attempt $attempt)"
done
if [ -z "$pg_port" ]; then
    cat "$pg_dir/server.log" >&2 || true
    die "PostgreSQL would not start"
fi

pg_password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
as_pg "$pg_bindir/psql" -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE coinpurse LOGIN CREATEDB PASSWORD '$pg_password'" \
    -c "CREATE DATABASE coinpurse OWNER coinpurse" > /dev/null

# --- Redis ------------------------------------------------------------------------------------
for attempt in 1 2 3; do
    port=$(free_port)
    if redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$redis_pidfile" --logfile "$workdir/redis.log" \
        --dir "$workdir" > /dev/null; then
        for _ in $(seq 50); do
            if redis-cli -h 127.0.0.1 -p "$port" ping 2> /dev/null | grep -q PONG; then
                redis_port=$port
                break 2
            fi
            sleep 0.1
        done
    fi
    say "Redis did not start on port $port (attempt $attempt)"
    [ -f "$redis_pidfile" ] && kill "$(cat "$redis_pidfile")" 2> /dev/null || true
done
if [ -z "$redis_port" ]; then
    cat "$workdir/redis.log" >&2 || true
    die "Redis would not start"
fi

export DATABASE_URL="postgres://coinpurse:$pg_password@127.0.0.1:$pg_port/coinpurse?conn_max_age=0"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
say "PostgreSQL $("$pg_bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port, \
Redis on 127.0.0.1:$redis_port (temporary, in $workdir)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
