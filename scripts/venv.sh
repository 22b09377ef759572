#!/usr/bin/env bash
# Make sure .venv exists, runs the Python named in .python-version, and holds the project's
# dependencies (with the dev extra). Re-installs only when pyproject.toml or .python-version
# changed since the last install (a stamp file inside .venv remembers their hash).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.coinpurse-installed
want=$(tr -d '[:space:]' < .python-version)

die() {
    echo >&2
    echo "*** make: $*" >&2
    echo >&2
    exit 1
}

version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

find_python() {
    # pyenv first: it is how .python-version is honoured on our machines. `python3.13` typed
    # directly is a pyenv stub that refuses to run, so ask pyenv for the real prefix.
    local candidate prefix
    if command -v pyenv > /dev/null 2>&1; then
        if prefix=$(pyenv prefix "$want" 2> /dev/null); then
            for candidate in "$prefix/bin/python$want" "$prefix/bin/python3"; do
                if [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$want" ]; then
                    echo "$candidate"
                    return 0
                fi
            done
        fi
    fi
    for candidate in "python$want" python3; do
        if command -v "$candidate" > /dev/null 2>&1 \
            && [ "$(version_of "$candidate")" = "$want" ]; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

case "$want" in
    3.13) ;;
    *) die ".python-version says '$want' but Coinpurse needs Python 3.13 (Django 6.1)." ;;
esac

if [ -x "$VENV/bin/python" ] && [ "$(version_of "$VENV/bin/python")" != "$want" ]; then
    echo "make: $VENV runs Python $(version_of "$VENV/bin/python"), not $want: re-creating it."
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    python=$(find_python) || die "no Python $want found. Install it with pyenv \
('pyenv install $want') so that 'pyenv prefix $want' works, then run make again."
    echo "make: creating $VENV with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$VENV"
fi

hash=$(cat pyproject.toml .python-version | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ]; then
    exit 0
fi

echo "make: installing the project and its dev dependencies into $VENV (pyproject.toml changed)"
rm -f "$STAMP"
# Non-editable: pyproject.toml declares no packages (the code runs from the repository root),
# so this installs the dependencies only. pip's "Location ... is ignored" warnings (one per
# package, about local mirrors this machine's pip.conf lists) are harmless: filter them out.
set +e
PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet '.[dev]' 2>&1 \
    | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
pip_rc=${PIPESTATUS[0]}
set -e
[ "$pip_rc" -eq 0 ] || die "pip install '.[dev]' failed (exit code $pip_rc)."
rm -rf build coinpurse.egg-info # the build's leftovers in the tree; the install does not need them
"$VENV/bin/python" -c 'import django, sys; assert django.VERSION[:2] == (6, 1), django.__version__' \
    || die "the installed Django is not 6.1; check pyproject.toml's pin."
echo "$hash" > "$STAMP"
