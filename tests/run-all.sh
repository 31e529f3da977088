#!/usr/bin/env bash
# Runs every test suite against the live rig named by HOLYSHEEP_RIG_ENV.
# Normally called as `tests/rig/with-rig.sh tests/run-all.sh` (see `make test`).
# A failing suite does not stop the others; the exit code is non-zero if any
# suite failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

: "${HOLYSHEEP_RIG_ENV:?not set: run through tests/rig/with-rig.sh (or make test)}"
export HOLYSHEEP_RIG_ENV

failed=()
suite() {
    local name="$1"; shift
    echo "==> [$name] $*" >&2
    if "$@"; then
        echo "==> [$name] ok" >&2
    else
        echo "==> [$name] FAILED (exit $?)" >&2
        failed+=("$name")
    fi
}

# --- Rust -------------------------------------------------------------------
suite rust cargo test --workspace

# --- Python (bindings-python) -----------------------------------------------
# >>> add the Python suite here, e.g. suite python .venv/bin/python -m pytest ...
#     (pytest exits 5 when it collects no test: treat that as a failure or not,
#     deliberately)

# --- Node (bindings-node) ---------------------------------------------------
# >>> add the Node suite here, e.g. suite node node --test ...

# --- wasm (bindings-wasm) ---------------------------------------------------
# >>> add the wasm suite here

if [ "${#failed[@]}" -gt 0 ]; then
    echo "run-all: failed suites: ${failed[*]}" >&2
    exit 1
fi
echo "run-all: all suites passed" >&2
