#!/usr/bin/env bash
# Benchmarks with a release build: builds the extension into .venv (release), then runs
# bench.py with a rig. Prints figures only.
#
#   bindings-python/bench/run.sh            (BENCH_CALLS=2000 BENCH_IMPORTS=20 by default)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VIRTUAL_ENV="$ROOT/.venv" "$ROOT/.venv/bin/maturin" develop --release -q -m "$ROOT/bindings-python/Cargo.toml"
# The test suite's build stamp stands for a debug build: drop it, so the next run rebuilds.
rm -f "$ROOT/.venv/.holysheep-python-build.stamp"
exec "$ROOT/tests/rig/with-rig.sh" "$ROOT/.venv/bin/python" "$ROOT/bindings-python/bench/bench.py"
