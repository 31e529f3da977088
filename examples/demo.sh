#!/usr/bin/env bash
# The demo: one chat completion and one streamed completion through every runtime the project
# ships, each logging in to Vault with AppRole and reading the key from KV v2.
#
# With VAULT_ADDR set in the environment, the demo talks to that Vault and to
# HOLYSHEEP_BASE_URL (default https://api.holysheep.ai/v1) with the usual settings
# (VAULT_ROLE_ID / VAULT_SECRET_ID or VAULT_TOKEN, HOLYSHEEP_SECRET_PATH, ...). Without it, it
# starts the local rig (OpenBao, a Vault Agent and the OpenAI-compatible test server) and points
# every runtime at that.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${VAULT_ADDR:-}" ] && [ -z "${HOLYSHEEP_RIG_ENV:-}" ]; then
    exec bash tests/rig/with-rig.sh bash examples/demo.sh
fi

if [ -n "${HOLYSHEEP_RIG_ENV:-}" ] && [ -z "${VAULT_ADDR:-}" ]; then
    # Translate the rig's description into the settings a real deployment would have.
    while IFS='=' read -r name value; do
        [ -n "$name" ] && export "RIG_ENV_$name=$value"
    done < <(grep -E '^[A-Z_]+=' "$HOLYSHEEP_RIG_ENV")
    export VAULT_ADDR="$RIG_ENV_VAULT_ADDR"
    export VAULT_ROLE_ID="$RIG_ENV_RIG_ROLE_ID"
    export VAULT_SECRET_ID="$RIG_ENV_RIG_SECRET_ID"
    export HOLYSHEEP_BASE_URL="$RIG_ENV_RIG_API_URL"
    echo "demo: using the local rig (OpenBao at $VAULT_ADDR, test API at $HOLYSHEEP_BASE_URL)"
else
    echo "demo: using Vault at $VAULT_ADDR and the API at ${HOLYSHEEP_BASE_URL:-https://api.holysheep.ai/v1}"
fi

echo
echo "=== Rust ==="
cargo run -q -p holysheep-vault --example demo

echo
echo "=== Python ==="
bash bindings-python/scripts/build.sh 2>/dev/null || bash bindings-python/scripts/build.sh
.venv/bin/python examples/demo.py

echo
echo "=== Node ==="
bash bindings-node/scripts/build.sh
node examples/demo.mjs

echo
echo "=== wasm (inside workerd) ==="
bash bindings-wasm/scripts/build.sh
node bindings-wasm/examples/demo.mjs
