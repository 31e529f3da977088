#!/usr/bin/env bash
# Builds the holysheep-vault-wasm package into bindings-wasm/pkg/:
#   1. cargo build of the wasm32 cdylib with the size-tuned `wasm-release` profile
#   2. wasm-bindgen --target web (the exact version the crate pins, from .tools/)
#   3. wasm-opt -Oz from the npm `binaryen` package, when installed (HOLYSHEEP_WASM_OPT=0 skips)
#   4. the per-runtime entry modules, types and package.json from js/
# Prints the .wasm size, raw and gzip-compressed. Run tests/rig/bootstrap.sh first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PKG="$HERE/pkg"
NAME=holysheep_vault_wasm
PROFILE="${HOLYSHEEP_WASM_PROFILE:-wasm-release}"
# A target dir of its own: wasm builds do not wait on the lock of native builds in target/.
export CARGO_TARGET_DIR="${HOLYSHEEP_WASM_TARGET_DIR:-$ROOT/target/wasm}"

say() { echo "wasm build: $*" >&2; }

want="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")"
WASM_BINDGEN="$ROOT/.tools/bin/wasm-bindgen"
have="$("$WASM_BINDGEN" --version 2>/dev/null | awk '{print $2}' || true)"
if [ -z "$want" ] || [ "$have" != "$want" ]; then
    say "wasm-bindgen-cli ${want:-?} is needed in .tools/ (found: ${have:-none}); run tests/rig/bootstrap.sh"
    exit 1
fi

say "cargo build --profile $PROFILE --target wasm32-unknown-unknown"
cargo build -p holysheep-vault-wasm --lib --target wasm32-unknown-unknown --profile "$PROFILE"
WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$PROFILE/$NAME.wasm"

rm -rf "$PKG.tmp"
mkdir -p "$PKG.tmp"
say "wasm-bindgen $want --target web"
"$WASM_BINDGEN" --target web --out-dir "$PKG.tmp" --out-name "$NAME" "$WASM"

OPT="$HERE/node_modules/.bin/wasm-opt"
if [ "${HOLYSHEEP_WASM_OPT:-1}" != 0 ] && [ -x "$OPT" ]; then
    say "wasm-opt -Oz ($("$OPT" --version 2>/dev/null | head -n1))"
    # The features rustc enables by default for wasm32-unknown-unknown; every target runtime has them.
    "$OPT" -Oz --strip-debug --strip-producers \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        -o "$PKG.tmp/${NAME}_bg.opt.wasm" "$PKG.tmp/${NAME}_bg.wasm"
    mv "$PKG.tmp/${NAME}_bg.opt.wasm" "$PKG.tmp/${NAME}_bg.wasm"
else
    say "wasm-opt skipped (HOLYSHEEP_WASM_OPT=0 or binaryen not installed)"
fi

cp "$HERE"/js/*.js "$HERE"/js/*.d.ts "$HERE/js/package.json" "$PKG.tmp/"
rm -rf "$PKG"
mv "$PKG.tmp" "$PKG"

raw=$(wc -c <"$PKG/${NAME}_bg.wasm")
gz=$(gzip -9c "$PKG/${NAME}_bg.wasm" | wc -c)
say "pkg/${NAME}_bg.wasm: $raw bytes raw, $gz bytes gzip -9 ($((gz / 1024)) KiB; target < 600 KiB)"
