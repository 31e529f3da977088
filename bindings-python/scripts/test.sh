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

say() { echo "python-suite: $*" >&2; }

failed=()

bash "$PKG/scripts/build.sh" || exit 1

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
