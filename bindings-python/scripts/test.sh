#!/usr/bin/env bash
# The Python package's suite, as tests/run-all.sh runs it (against the rig it started):
#   1. build the extension into .venv (debug, editable; skipped when its inputs are unchanged),
#   2. mypy (strict) and ruff,
#   3. pytest bindings-python/tests (needs HOLYSHEEP_RIG_ENV; exit 5, "no tests", fails too).
# Every step runs; the exit code is non-zero if any failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PKG="$ROOT/bindings-python"
STAMP="$VENV/.holysheep-python-build.stamp"

say() { echo "python-suite: $*" >&2; }

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

failed=()

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

say "mypy (strict)"
(cd "$PKG" && "$VENV/bin/mypy") || failed+=(mypy)
say "ruff"
(cd "$PKG" && "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check .) || failed+=(ruff)
say "pytest"
"$VENV/bin/python" -m pytest "$PKG/tests" -q -p no:cacheprovider "$@" || failed+=(pytest)

if [ "${#failed[@]}" -gt 0 ]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
