#!/usr/bin/env bash
# Runs the wasm package's Deno tests (tests/deno/) against the live rig named by
# HOLYSHEEP_RIG_ENV, with the deno binary of the npm `deno` package. Permissions are narrow on
# purpose: network to loopback only; reads of the package, the scenarios and the rig's env file.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
: "${HOLYSHEEP_RIG_ENV:?not set: run through tests/rig/with-rig.sh}"
DENO="$HERE/node_modules/.bin/deno"
[ -x "$DENO" ] || { echo "deno not installed: run tests/rig/bootstrap.sh" >&2; exit 1; }
[ -f "$HERE/pkg/holysheep_vault_wasm_bg.wasm" ] || { echo "pkg/ not built: run bindings-wasm/scripts/build.sh" >&2; exit 1; }
export DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
export DENO_DIR="${DENO_DIR:-$ROOT/target/deno}"
env_file="$(cd "$(dirname "$HOLYSHEEP_RIG_ENV")" && pwd)/$(basename "$HOLYSHEEP_RIG_ENV")"
cd "$HERE"
# The package's TypeScript declarations, checked against the API as used (tests/deno/types_check.ts).
"$DENO" check --no-config --no-lock tests/deno/types_check.ts

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
"$DENO" test --no-config --no-lock \
    --allow-net=127.0.0.1,localhost \
    --allow-read="$HERE/pkg,$HERE/tests,$ROOT/tests/scenarios,$env_file" \
    --allow-env=HOLYSHEEP_RIG_ENV \
    "$@" tests/deno/ 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
# deno's summary ("ok | 38 passed | 0 failed | 4 ignored (3s)") restated as the plain closing
# line CI reads; ignored tests are the not-applicable scenarios.
summary="$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | tail -n 1 || true)"
if [ -n "$summary" ]; then
    count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
    echo "deno: $(count passed) passed, $(count failed) failed, $(count ignored) skipped"
fi
exit "$rc"
