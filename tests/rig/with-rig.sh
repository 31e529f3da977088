#!/usr/bin/env bash
# Run a command with a live test rig:
#
#   tests/rig/with-rig.sh CMD [ARGS...]
#
# Starts tests/rig/rig.py in the background (unless HOLYSHEEP_RIG_ENV already
# names the env file of a live rig, which is then reused), waits until it is
# ready, exports HOLYSHEEP_RIG_ENV=<env file>, runs CMD, stops the rig and
# exits with CMD's exit code.
#
# Each run gets its own state dir, tests/.rig/run-<pid>/, so concurrent runs
# in one tree do not collide. It is removed when CMD succeeds and kept (for
# the logs) when it fails.
#
# Environment knobs: RIG_UP_ARGS (extra `rig.py up` flags, e.g.
# --no-testserver), RIG_WAIT_TIMEOUT (seconds, default 900: the rig may have
# to build the test server first), RIG_KEEP=1 (keep the state dir).
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RIG="$ROOT/tests/rig/rig.py"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3

if [ -n "${HOLYSHEEP_RIG_ENV:-}" ] && "$PY" "$RIG" wait --env-file "$HOLYSHEEP_RIG_ENV" --timeout 1 >/dev/null 2>&1; then
    echo "with-rig: reusing the live rig at $HOLYSHEEP_RIG_ENV" >&2
    export HOLYSHEEP_RIG_ENV
    exec "$@"
fi

RUN_DIR="$ROOT/tests/.rig/run-$$"
ENV_FILE="$RUN_DIR/env"
mkdir -p "$ROOT/tests/.rig"

# The rig's stdout goes to stderr so CMD's stdout stays clean.
# shellcheck disable=SC2086 # RIG_UP_ARGS is a list of flags
"$PY" "$RIG" up --env-file "$ENV_FILE" ${RIG_UP_ARGS:-} 1>&2 &
RIG_PID=$!
rc=1

cleanup() {
    trap - EXIT INT TERM
    if kill -0 "$RIG_PID" 2>/dev/null; then
        kill -TERM "$RIG_PID" 2>/dev/null || true
    fi
    wait "$RIG_PID" 2>/dev/null || true
    if [ "$rc" -eq 0 ] && [ "${RIG_KEEP:-0}" != 1 ]; then
        rm -rf "$RUN_DIR"
    else
        echo "with-rig: rig state and logs kept in ${RUN_DIR#"$ROOT"/}" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'rc=130; exit 130' INT
trap 'rc=143; exit 143' TERM

if ! "$PY" "$RIG" wait --env-file "$ENV_FILE" --timeout "${RIG_WAIT_TIMEOUT:-900}" --pid "$RIG_PID"; then
    echo "with-rig: the rig did not come up" >&2
    rc=1
    exit 1
fi

export HOLYSHEEP_RIG_ENV="$ENV_FILE"
set +e
"$@"
rc=$?
set -e
exit "$rc"
