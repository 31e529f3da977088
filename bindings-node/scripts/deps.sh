#!/usr/bin/env bash
# Installs bindings-node's npm dev tools (napi CLI, openai, prettier, typescript) with `npm ci`
# when node_modules does not match package-lock.json; a no-op otherwise, so the bootstrap and the
# test script can both call it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STAMP=node_modules/.holysheep-lock.sha256
want="$( { sha256sum package.json package-lock.json; node --version; } | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "bindings-node: npm packages up to date" >&2
    exit 0
fi
echo "bindings-node: npm ci" >&2
# --no-audit/--no-fund: no extra registry round trips; the lockfile pins every version.
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$STAMP"
