#!/usr/bin/env bash
# The Node suite, as tests/run-all.sh runs it (needs HOLYSHEEP_RIG_ENV, i.e. a live rig):
# npm packages, a debug build with the generated-files check, then `node --test`.
#
#   tests/rig/with-rig.sh bindings-node/scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${HOLYSHEEP_RIG_ENV:?not set: run through tests/rig/with-rig.sh (see tests/README.md)}"

bash scripts/deps.sh
status=0
bash scripts/build.sh || status=$?
# 3 = built, but the generated files are stale: still run the tests so one run reports both.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    exit "$status"
fi
npx prettier --check . || status=1
node --test __test__/ || status=1
exit "$status"
