#!/usr/bin/env bash
# Builds bench/browser/tract-peer (tract-onnx for the browser, wasm32 +
# simd128: the CPU engine this project shipped before crates/engine) into
# $DENSENET_EDGE_CACHE/tract-peer/pkg and prints that directory. A peer for
# scripts/bench-browser.sh only: no build or test of the project needs it.
# A cold build takes ~3.5 minutes on 2 cores. Needs the wasm-bindgen-cli that
# scripts/build-web.sh installs (both lockfiles pin the same version).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
crate="$REPO_ROOT/bench/browser/tract-peer"
WB_VERSION="$(wasm_bindgen_version "$crate/Cargo.lock")"
WASM_BINDGEN="$TOOLS_DIR/wasm-bindgen-$WB_VERSION/bin/wasm-bindgen"
[[ -x $WASM_BINDGEN ]] || { echo "build-tract-peer: no wasm-bindgen $WB_VERSION: run scripts/build-web.sh first" >&2; exit 1; }
target="$DENSENET_EDGE_CACHE/target-tract-peer"
out="$DENSENET_EDGE_CACHE/tract-peer/pkg"
echo "build-tract-peer: cargo build (wasm32, simd128, release) in $target" >&2
(cd "$crate" && CARGO_TARGET_DIR="$target" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  nice -n 10 cargo build --locked --release --target wasm32-unknown-unknown --quiet)
"$WASM_BINDGEN" --target web --out-dir "$out" "$target/wasm32-unknown-unknown/release/densenet_edge_tract_peer.wasm"
echo "$out"
