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
passed=0
suite() {
    local name="$1"; shift
    echo "==> [$name] $*" >&2
    if "$@"; then
        passed=$((passed + 1))
        echo "==> [$name] ok" >&2
    else
        echo "==> [$name] FAILED (exit $?)" >&2
        failed+=("$name")
    fi
}

# --- Rust -------------------------------------------------------------------
suite rust-format cargo fmt --all -- --check
suite rust-lint cargo clippy --workspace --all-targets -- -D warnings
suite rust cargo test --workspace

# --- Python (bindings-python) -----------------------------------------------
# Builds the extension into .venv (skipped when unchanged), then mypy, ruff and
# pytest (shared scenarios, drop-ins, openai SDK, GIL/fork/cancel, secrets).
# pytest's exit 5 (no test collected) is deliberately a failure.
suite python bash bindings-python/scripts/test.sh

# --- Node (bindings-node) ---------------------------------------------------
# npm ci when stale, napi debug build + check that the generated native.js/native.d.ts are the
# committed ones, prettier --check, then node --test (scenarios, cancellation, openai SDK, ...).
suite node bash bindings-node/scripts/test.sh

# --- wasm (bindings-wasm) ---------------------------------------------------
# Build (prints the .wasm size, raw and gzip), then the shared scenarios, the canary-secret check
# and the panic safety net inside workerd (Miniflare, reported by node's test runner), in Node 20
# (the package's node entry) and inside Deno (deno test). Not-applicable scenarios (needs: fs,
# background) are reported as skipped.
suite wasm-format bash -c 'cd bindings-wasm && npx --no-install prettier --check .'
suite wasm-build bash bindings-wasm/scripts/build.sh
if [[ " ${failed[*]-} " != *" wasm-build "* ]]; then
    suite wasm-workerd node --test --test-reporter=spec bindings-wasm/tests/workerd.test.mjs
    suite wasm-node node --test --test-reporter=spec bindings-wasm/tests/node.test.mjs
    suite wasm-deno bash bindings-wasm/scripts/test-deno.sh
fi

# The plain closing line: suites, each of which printed its own test counts above.
echo "suites: $passed passed, ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "run-all: failed suites: ${failed[*]}" >&2
    exit 1
fi
echo "run-all: all suites passed" >&2
