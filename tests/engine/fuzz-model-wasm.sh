#!/usr/bin/env bash
# The model loader's fuzz test in wasm32 (usize 32 bits, a panic traps), in
# Node: builds crates/engine/examples/fuzz_model_wasm.rs (simd128, release
# with overflow checks and debug assertions on, so that any arithmetic that
# wraps traps) and runs tests/engine/fuzz-model-wasm.mjs.
#   tests/engine/fuzz-model-wasm.sh [CASES=600] [SEED=1592593889]
# Exit 1 on a trap, a panic, an error other than model_invalid or a heap peak
# over a case's bound (77 without Node); FUZZ_MODEL_CASE=i replays one case.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$REPO_ROOT"
command -v node >/dev/null || { echo "fuzz-model-wasm: node not found (Node 20 is needed); skipped"; exit 77; }
CASES="${1:-600}"
SEED="${2:-1592593889}"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
TARGET_DIR="$DENSENET_EDGE_CACHE/target-engine-wasm-fuzz"
RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR="$TARGET_DIR" \
  CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true \
  nice -n 10 cargo build --release --locked -q -p densenet-edge-engine --target wasm32-unknown-unknown \
  --example fuzz_model_wasm
node tests/engine/fuzz-model-wasm.mjs "$TARGET_DIR/wasm32-unknown-unknown/release/examples/fuzz_model_wasm.wasm" \
  "$CASES" "$SEED"
