#!/usr/bin/env bash
# Builds the npm package `densenet-edge` into crates/web/pkg (gitignored) and
# copies it to www/pkg (gitignored) so the page works from any static host
# and from the Worker's static assets.
#   scripts/build-web.sh          release build (what the page and tests use)
#   scripts/build-web.sh --test-trap
#       also builds the package with the Cargo feature `test-trap` (inputs
#       that make the wasm trap, for the trap-recovery tests) into
#       $DENSENET_EDGE_CACHE/web-test-trap/pkg, outside the clone: never
#       published, never copied to www/.
# Needs: rustup target wasm32-unknown-unknown; installs wasm-bindgen-cli of
# exactly the Cargo.lock version into $TOOLS_DIR (shared with the Worker when
# the versions coincide).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
say() { echo "build-web: $*" >&2; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# wasm-bindgen-cli must be the very version in Cargo.lock.
WB_VERSION="$(wasm_bindgen_version Cargo.lock)"
WB_ROOT="$TOOLS_DIR/wasm-bindgen-$WB_VERSION"
WASM_BINDGEN="$WB_ROOT/bin/wasm-bindgen"
if [[ "$("$WASM_BINDGEN" --version 2>/dev/null || true)" != "wasm-bindgen $WB_VERSION"* ]]; then
  say "installing wasm-bindgen-cli $WB_VERSION into $WB_ROOT"
  CARGO_TARGET_DIR="$DENSENET_EDGE_CACHE/target-tools" nice -n 10 \
    cargo install --locked --quiet --root "$WB_ROOT" "wasm-bindgen-cli@$WB_VERSION"
fi
export WASM_BINDGEN WB_ROOT

# Two builds of the same crate, each in its own target dir (other RUSTFLAGS):
# simd128, which every wasm runtime with SIMD runs, and simd128 + relaxed SIMD
# (f32x4.relaxed_madd is one FMA: 0.7-0.8x the engine's time), which the
# package picks where `WebAssembly.validate` accepts it (instance.js).
# web_sys_unstable_apis for wgpu 0.16's WebGPU backend.
FLAGS="--cfg=web_sys_unstable_apis -C target-feature=+simd128"
# cargo_wasm TARGET_DIR EXTRA_FEATURES [cargo args]: flags only for wasm32, never for native builds.
cargo_wasm() {
  local dir="$1" features="$2"
  shift 2
  CARGO_TARGET_DIR="$dir" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$FLAGS$features" \
    nice -n 10 cargo build --locked --release --target wasm32-unknown-unknown -p densenet-edge-web "$@"
}

# bindgen WASM OUT_DIR: one ES-module build for browsers, bundlers and Node:
# js/node.js hands the wasm bytes to init() itself, so `--target web` serves
# all three. --experimental-reset-state-function: the glue exports
# __wbg_reset_state(), with which js/instance.js replaces an instance that
# trapped.
bindgen() {
  "$WASM_BINDGEN" --target web --experimental-reset-state-function --out-dir "$2" --out-name densenet_edge_web "$1"
}

# build_package DIR [cargo features]
build_package() {
  local pkg="$1" relaxed_out
  shift
  say "cargo build -p densenet-edge-web $* (wasm32, release; simd128, then simd128+relaxed-simd)"
  cargo_wasm "$WASM_TARGET_DIR" "" "$@"
  cargo_wasm "$WASM_RELAXED_TARGET_DIR" ",+relaxed-simd" "$@"
  rm -rf "$pkg"
  mkdir -p "$pkg"
  bindgen "$WASM_TARGET_DIR/wasm32-unknown-unknown/release/densenet_edge_web.wasm" "$pkg"
  relaxed_out="$(mktemp -d)"
  bindgen "$WASM_RELAXED_TARGET_DIR/wasm32-unknown-unknown/release/densenet_edge_web.wasm" "$relaxed_out"
  # Both wasm files are instantiated by the one glue: it must be the same.
  if ! cmp -s "$pkg/densenet_edge_web.js" "$relaxed_out/densenet_edge_web.js"; then
    say "the relaxed-SIMD build's glue differs from the simd128 build's"
    rm -rf "$relaxed_out"
    return 1
  fi
  cp "$relaxed_out/densenet_edge_web_bg.wasm" "$pkg/densenet_edge_web_relaxed_bg.wasm"
  rm -rf "$relaxed_out"
  cp crates/web/js/* "$pkg/"
}

if [[ "${1:-}" == --test-trap ]]; then
  build_package "$DENSENET_EDGE_CACHE/web-test-trap/pkg" --features test-trap
  say "built the test-trap package in $DENSENET_EDGE_CACHE/web-test-trap/pkg"
fi
# The published package last, so that the target dirs'
# densenet_edge_web.wasm are the ones without test traps.
PKG="$REPO_ROOT/crates/web/pkg"
build_package "$PKG"

rm -rf www/pkg
cp -r "$PKG" www/pkg
# The manifests as static files next to where the page looks for the model
# (www/model/X.json); the .onnx itself (32 MB, over the Workers 25 MiB asset
# limit) is served by the Worker from R2, or by scripts/serve-web.mjs.
mkdir -p www/model
cp model/manifests/*.json www/model/
say "built $PKG (wasm: simd128 $(du -h "$PKG/densenet_edge_web_bg.wasm" | cut -f1), relaxed $(du -h "$PKG/densenet_edge_web_relaxed_bg.wasm" | cut -f1)) and www/pkg"
