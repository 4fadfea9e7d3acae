#!/usr/bin/env bash
# Builds the engine's wasm check (crates/engine/examples/wasm_check.rs: the
# engine alone, behind a tiny C-like export API) twice, each in its own target
# dir: simd128, and simd128 + relaxed SIMD. Prints the two .wasm paths, simd128
# first, on one line. Used by tests/browser/run.sh (Node, Chromium),
# tests/worker/run.sh and tests/engine/workerd_check.sh (workerd).
#   read -r SIMD128 RELAXED < <(scripts/build-engine-wasm.sh)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
# build TARGET_DIR FEATURES: prints the .wasm path
build() {
  RUSTFLAGS="-C target-feature=$2" CARGO_TARGET_DIR="$1" nice -n 10 cargo build --release --locked -q \
    -p densenet-edge-engine --target wasm32-unknown-unknown --example wasm_check >&2
  echo "$1/wasm32-unknown-unknown/release/examples/wasm_check.wasm"
}
echo "$(build "$DENSENET_EDGE_CACHE/target-engine-wasm" +simd128)" \
  "$(build "$DENSENET_EDGE_CACHE/target-engine-wasm-relaxed" +simd128,+relaxed-simd)"
