#!/usr/bin/env bash
# Install, from Debian's archive, what the test suite needs and the machine lacks: Chromium
# (browser tests), Redis (shared cache), the PostgreSQL server (race tests) and wrk (the HTTP
# load bench, bench/http_load.py). Each package is installed only when it is missing;
# `apt-get update` runs at most once, and only then.
set -euo pipefail

missing=()
command -v chromium > /dev/null 2>&1 || missing+=(chromium)
command -v redis-server > /dev/null 2>&1 || missing+=(redis-server)
command -v wrk > /dev/null 2>&1 || missing+=(wrk)
# The server binaries live in Debian's versioned folder, not on PATH; the package also makes the
# `postgres` user that the throwaway cluster runs as when we are root.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' > /dev/null || ! id postgres > /dev/null 2>&1; then
    missing+=(postgresql)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "provision: chromium, redis-server, postgresql and wrk are present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo > /dev/null 2>&1; then
    sudo=(sudo)
else
    echo "provision: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi

echo "provision: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
echo "provision: installed ${missing[*]}"
