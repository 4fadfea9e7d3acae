#!/usr/bin/env bash
# Builds the int8 kernels' wasm module (crates/engine/examples/int8_kernels.rs:
# in wasm32 a module of plain C-ABI exports, no WASI) twice, each in its own
# target dir: simd128, and simd128 + relaxed SIMD. Prints the two .wasm paths,
# simd128 first, on one line. Used by tests/engine/int8-wasm.test.mjs (bit
# exactness against a JS integer reference) and bench/engine/wasm_int8_kernels.mjs.
#   read -r SIMD128 RELAXED < <(scripts/build-int8-wasm.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
# build TARGET_DIR FEATURES: prints the .wasm path
build() {
  RUSTFLAGS="-C target-feature=$2" CARGO_TARGET_DIR="$1" nice -n 10 cargo build --release --locked -q \
    -p densenet-edge-engine --target wasm32-unknown-unknown --example int8_kernels >&2
  echo "$1/wasm32-unknown-unknown/release/examples/int8_kernels.wasm"
}
echo "$(build "${INT8_WASM_TARGET_DIR:-$DENSENET_EDGE_CACHE/target-int8-wasm}" +simd128)" \
  "$(build "${INT8_WASM_RELAXED_TARGET_DIR:-$DENSENET_EDGE_CACHE/target-int8-wasm-relaxed}" +simd128,+relaxed-simd)"
