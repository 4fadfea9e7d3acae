#!/usr/bin/env bash
# Longer run of the model loader's fuzz test (crates/engine/tests/fuzz_model.rs):
#   scripts/fuzz-model.sh [CASES=20000] [SEED=random]
# FUZZ_MODEL_WASM=1 runs the same cases in wasm32 as well (tests/engine/fuzz-model-wasm.sh).
# A case that fails names its replay: FUZZ_MODEL_SEED=S FUZZ_MODEL_CASE=i; a panicking
# case's bytes go to $TMPDIR/fuzz-model-panic-S-i.onnx. Replay one natively with
#   FUZZ_MODEL_SEED=S FUZZ_MODEL_CASE=i cargo test -p densenet-edge-engine --test fuzz_model -- --nocapture the_loader
# Built as the tests are (the engine optimised, overflow checks on: a size that wraps panics).
set -euo pipefail
source "$(dirname "$0")/env.sh"
CASES="${1:-20000}"
SEED="${2:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
echo "fuzz-model: $CASES cases, seed $SEED"
cd "$REPO_ROOT"
FUZZ_MODEL_CASES="$CASES" FUZZ_MODEL_SEED="$SEED" nice -n 10 cargo test --locked -p densenet-edge-engine \
  --test fuzz_model -- --nocapture the_loader_refuses_hostile_models
if [ "${FUZZ_MODEL_WASM:-0}" = 1 ]; then
  tests/engine/fuzz-model-wasm.sh "$CASES" "$SEED"
fi
