#!/usr/bin/env bash
# Benchmarks of holysheep-vault against the integrations it replaces, in one command:
#
#   bench/run.sh            # builds (release), starts a rig, measures, writes bench/RESULTS.md
#
# 1. Builds in release mode, without touching the packages' own (debug) builds:
#    - the test server (cargo build --release -p holysheep-testserver), which the rig then runs;
#    - the Python extension as a release wheel (maturin build --release), installed with
#      `pip --target` into bench/.build/py, which the Python workers put first on PYTHONPATH
#      (the .venv keeps the other engineers' editable debug install);
#    - the Node addon with napi's release build (--release --strip, as `npm run build:release`)
#      into bench/.build/node, loaded through NAPI_RS_NATIVE_LIBRARY_PATH (as
#      bindings-node/bench/run.sh does);
#    - the wasm package only when bindings-wasm/pkg is missing (BENCH_WASM_BUILD=1 forces it).
# 2. Installs the baselines' npm packages (bench/package-lock.json) with `npm ci` when needed.
# 3. Runs bench/bench.py under tests/rig/with-rig.sh (a fresh rig of its own).
#
# Knobs: BENCH_SKIP_BUILD=1, BENCH_ROUNDS, BENCH_SECONDS, BENCH_CALLS, BENCH_IMPORTS,
# BENCH_ONLY (see bench/bench.py).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
VENV="$ROOT/.venv"
BUILD="$BENCH/.build"
cd "$ROOT"

say() { echo "bench: $*" >&2; }

bash tests/rig/bootstrap.sh >/dev/null

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    say "release build: test server"
    cargo build --release -q -p holysheep-testserver >&2

    say "release build: Python wheel (maturin build --release)"
    rm -rf "$BUILD/wheels"
    VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" build --release -q \
        -m bindings-python/Cargo.toml -i "$VENV/bin/python" -o "$BUILD/wheels" >&2
    rm -rf "$BUILD/py"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
        --target "$BUILD/py" "$BUILD"/wheels/holysheep_vault-*.whl >&2

    say "release build: Node addon (napi build --release --strip)"
    bash bindings-node/scripts/deps.sh >&2
    (cd bindings-node && npx napi build --platform --release --strip \
        -o "$BUILD/node" --no-js --dts native.d.ts) >&2

    if [ ! -f bindings-wasm/pkg/holysheep_vault_wasm_bg.wasm ] || [ "${BENCH_WASM_BUILD:-0}" = 1 ]; then
        say "wasm build (bindings-wasm/scripts/build.sh)"
        bash bindings-wasm/scripts/build.sh >&2 || say "wasm build failed; its size is left out"
    fi
fi

# The baselines' npm packages, pinned by bench/package-lock.json.
STAMP="$BENCH/node_modules/.holysheep-bench-lock.sha256"
want="$( { sha256sum "$BENCH/package.json" "$BENCH/package-lock.json"; node --version; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    say "npm ci (bench baselines)"
    (cd "$BENCH" && npm ci --no-audit --no-fund --loglevel=error) >&2
    echo "$want" >"$STAMP"
fi

# Always a fresh rig running the release test server just built (a live rig named by
# HOLYSHEEP_RIG_ENV may run a debug one, and its counters would be shared).
unset HOLYSHEEP_RIG_ENV
export RIG_TESTSERVER_BIN="$ROOT/target/release/holysheep-testserver"
exec bash tests/rig/with-rig.sh "$VENV/bin/python" "$BENCH/bench.py"
