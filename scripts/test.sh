#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, prepares
# the model, then runs every suite and says which failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

set -e
scripts/setup.sh
scripts/prepare-model.sh
set +e

failed=()
skipped=()
passed=0
# A suite passes (exit 0), fails, or, exit 77, was skipped: it could not
# install what it needs, said why, and is listed at the end.
suite() {
  local name="$1" rc=0
  shift
  echo
  echo "=== $name: $*"
  "$@" || rc=$?
  case $rc in
    0) passed=$((passed + 1)) ;;
    77) skipped+=("$name") ;;
    *) failed+=("$name") ;;
  esac
}

# Formatting and lints, root workspace (and the engine's stage timing), the
# engine's wasm kernels (the relaxed build compiles the simd128 ones too) and
# the Worker's (its wasm32 target); the aarch64 suite lints its own build.
# First, no crate's modules import each other in a circle.
lint() {
  python3 scripts/check-imports.py &&
    cargo fmt --all -- --check &&
    (cd worker && cargo fmt -- --check) &&
    cargo clippy --workspace --all-targets --locked -- -D warnings &&
    cargo clippy -p densenet-edge-engine --features stages --all-targets --locked -- -D warnings &&
    RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" CARGO_TARGET_DIR="$DENSENET_EDGE_CACHE/target-engine-wasm-relaxed" \
      cargo clippy -p densenet-edge-engine --target wasm32-unknown-unknown --all-targets --locked -- -D warnings &&
    (cd worker && CARGO_TARGET_DIR="$WORKER_TARGET_DIR" cargo clippy --release --target wasm32-unknown-unknown -- -D warnings)
}
suite lint lint
suite native cargo test --workspace --locked
# Batch 8, DenseNet-169, -201 and -161 against onnxruntime: references made
# outside the clone (253 MB), then the engine's ignored tests that read them.
engine_variants() {
  "$VENV_DIR/bin/python" bench/engine/make_variants.py &&
    cargo test --locked -p densenet-edge-engine --test variants -- --include-ignored
}
suite engine-variants engine_variants
# The model loader's fuzz cases again inside a wasm32 instance (Node): a
# panic there is a trap, and sizes wrap at 32 bits.
suite engine-fuzz-wasm tests/engine/fuzz-model-wasm.sh
# The int8 GEMM kernels of both wasm builds, bit-exact against an integer
# reference, in Node and (when installed) headless Chromium.
suite engine-int8-wasm node --test --test-reporter=spec tests/engine/int8-wasm.test.mjs tests/engine/int8-model-wasm.test.mjs
suite engine-aarch64 scripts/test-engine-aarch64.sh
suite browser tests/browser/run.sh
suite worker tests/worker/run.sh

echo
[ ${#skipped[@]} -eq 0 ] || echo "SKIPPED suites (see their output): ${skipped[*]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  echo "suites: $passed passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
  exit 1
fi
echo "suites: $passed passed, 0 failed, ${#skipped[@]} skipped"
