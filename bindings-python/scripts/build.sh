#!/usr/bin/env bash
# Builds the extension into .venv (debug, editable), skipped when none of its inputs changed.
# Used by the test suite and the demo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PKG="$ROOT/bindings-python"
STAMP="$VENV/.holysheep-python-build.stamp"

say() { echo "python-build: $*" >&2; }

# Everything the extension is built from. A hash of it is cheap (a few hundred files) and
# spares the ~20 s a no-op `maturin develop` costs (it always relinks and reinstalls).
inputs_hash() {
    {
        find "$PKG/src" "$ROOT/core/src" -type f -name '*.rs' -print0 | sort -z | xargs -0 sha256sum
        sha256sum "$PKG/Cargo.toml" "$PKG/pyproject.toml" "$ROOT/core/Cargo.toml" \
            "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" 2>/dev/null
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}


want="$(inputs_hash)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && ls "$PKG"/python/holysheep_vault/_native*.so >/dev/null 2>&1 \
    && "$VENV/bin/python" -c 'import holysheep_vault' 2>/dev/null; then
    say "extension up to date (inputs unchanged)"
else
    say "building the extension (maturin develop, debug)"
    # maturin develop installs into the active virtualenv: name it.
    if VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" develop -q -m "$PKG/Cargo.toml"; then
        echo "$want" >"$STAMP"
    else
        say "build FAILED"
        rm -f "$STAMP"
        exit 1
    fi
fi

