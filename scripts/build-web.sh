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
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)"
WB_ROOT="$TOOLS_DIR/wasm-bindgen-$WB_VERSION"
WASM_BINDGEN="$WB_ROOT/bin/wasm-bindgen"
if [[ "$("$WASM_BINDGEN" --version 2>/dev/null || true)" != "wasm-bindgen $WB_VERSION"* ]]; then
  say "installing wasm-bindgen-cli $WB_VERSION into $WB_ROOT"
  CARGO_TARGET_DIR="$DENSENET_EDGE_CACHE/target-tools" nice -n 10 \
    cargo install --locked --quiet --root "$WB_ROOT" "wasm-bindgen-cli@$WB_VERSION"
fi
export WASM_BINDGEN WB_ROOT

# wasm32 flags only for this target dir, never for native builds:
# web_sys_unstable_apis for wgpu 0.16's WebGPU backend, simd128 for the engine's kernels.
export CARGO_TARGET_DIR="$WASM_TARGET_DIR"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--cfg=web_sys_unstable_apis -C target-feature=+simd128"

# build_package DIR [cargo features]
build_package() {
  local pkg="$1"
  shift
  say "cargo build -p densenet-edge-web $* (wasm32, release)"
  nice -n 10 cargo build --locked --release --target wasm32-unknown-unknown -p densenet-edge-web "$@"
  rm -rf "$pkg"
  mkdir -p "$pkg"
  # One ES-module build for browsers, bundlers and Node: js/node.js hands the
  # wasm bytes to init() itself, so `--target web` serves all three.
  # --experimental-reset-state-function: the glue exports __wbg_reset_state(),
  # with which js/instance.js replaces an instance that trapped.
  "$WASM_BINDGEN" --target web --experimental-reset-state-function --out-dir "$pkg" --out-name densenet_edge_web \
    "$WASM_TARGET_DIR/wasm32-unknown-unknown/release/densenet_edge_web.wasm"
  cp crates/web/js/* "$pkg/"
}

if [[ "${1:-}" == --test-trap ]]; then
  build_package "$DENSENET_EDGE_CACHE/web-test-trap/pkg" --features test-trap
  say "built the test-trap package in $DENSENET_EDGE_CACHE/web-test-trap/pkg"
fi
# The published package last, so that the target dir's
# densenet_edge_web.wasm is the one without test traps.
PKG="$REPO_ROOT/crates/web/pkg"
build_package "$PKG"

rm -rf www/pkg
cp -r "$PKG" www/pkg
# The manifests as static files next to where the page looks for the model
# (www/model/X.json); the .onnx itself (32 MB, over the Workers 25 MiB asset
# limit) is served by the Worker from R2, or by scripts/serve-web.mjs.
mkdir -p www/model
cp model/manifests/*.json www/model/
say "built $PKG ($(du -h "$PKG/densenet_edge_web_bg.wasm" | cut -f1) wasm) and www/pkg"
