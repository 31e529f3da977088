#!/usr/bin/env bash
# Release-builds the native module into bench/.release/ (the package's own debug build, used by
# the tests, is left alone) and runs bench.js against a rig (reused if HOLYSHEEP_RIG_ENV names a
# live one). Prints figures; asserts nothing.
#
#   bindings-node/bench/run.sh
set -euo pipefail
PKG="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$PKG/.." && pwd)"
cd "$PKG"

bash scripts/deps.sh
# --strip: the size and load time of what would be published (the release profile keeps debug info).
npx napi build --platform --release --strip -o bench/.release --no-js --dts native.d.ts
NODE_FILE="$(ls "$PKG"/bench/.release/*.node | head -n1)"
# The generated loader honours this variable: the package's JS runs unchanged on the release build.
export NAPI_RS_NATIVE_LIBRARY_PATH="$NODE_FILE"
exec bash "$ROOT/tests/rig/with-rig.sh" node "$PKG/bench/bench.js"
