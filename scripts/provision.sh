#!/usr/bin/env bash
# Install, from Debian's archive, what the test suite needs and the machine lacks: Chromium
# and its headless shell (browser tests: the shell, where Debian has it, renders the same pages
# for a third less CPU; tests/e2e/conftest.py), Redis (shared cache), the PostgreSQL server (race tests) and wrk (the HTTP
# load bench, bench/http_load.py). Each package is installed only when it is missing;
# `apt-get update` runs at most once, and only then.
set -euo pipefail

missing=()
command -v chromium > /dev/null 2>&1 || missing+=(chromium)
# Optional: tried on its own below, so a Debian without the package still provisions.
shell=()
command -v chromium-headless-shell > /dev/null 2>&1 || shell=(chromium-headless-shell)
command -v redis-server > /dev/null 2>&1 || missing+=(redis-server)
command -v wrk > /dev/null 2>&1 || missing+=(wrk)
# The server binaries live in Debian's versioned folder, not on PATH; the package also makes the
# `postgres` user that the throwaway cluster runs as when we are root.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null || ! id postgres > /dev/null 2>&1; then
    missing+=(postgresql)
fi

if [ ${#missing[@]} -eq 0 ] && [ ${#shell[@]} -eq 0 ]; then
    echo "provision: chromium (and its headless shell), redis-server, postgresql and wrk are present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo > /dev/null 2>&1; then
    sudo=(sudo)
else
    if [ ${#missing[@]} -eq 0 ]; then
        echo "provision: no chromium-headless-shell (needs root to install): the browser tests use chromium"
        exit 0
    fi
    echo "provision: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
    echo "provision: installing ${missing[*]}"
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
    echo "provision: installed ${missing[*]}"
fi
if [ ${#shell[@]} -gt 0 ]; then
    if "${sudo[@]}" apt-get install -y -qq "${shell[@]}" > /dev/null 2>&1; then
        echo "provision: installed chromium-headless-shell"
    else
        echo "provision: chromium-headless-shell is not in this Debian: the browser tests use chromium"
    fi
fi
