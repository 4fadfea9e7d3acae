#!/usr/bin/env bash
# Builds the Worker, makes sure the model exists, then runs the HTTP tests
# against it in workerd (wrangler's unstable_startWorker); the tests seed the
# local R2 themselves. Offline once scripts/setup-worker-tools.sh has run.
#   tests/worker/run.sh [extra node --test args]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$root/scripts/build-worker.sh"
"$root/scripts/prepare-model.sh" >/dev/null
source "$root/worker/env.sh"
cd "$root"
# Ajv, for the answers' schema checks (tests/answer-schema.mjs).
npm_install_locked tests
# DenseNet-169 and -201 for larger-models.test.mjs (the engine-variants suite
# makes them too).
refs="${DENSENET_ENGINE_REFS:-$HOME/.cache/densenet-edge/engine-refs}"
[[ -f "$refs/densenet169-random.batch8.logits.npy" && -f "$refs/densenet201-random.onnx" ]] ||
  "$VENV_DIR/bin/python" bench/engine/make_variants.py >/dev/null
# The engine's own wasm builds in the same workerd: every kernel of the
# simd128 and relaxed-SIMD builds against float64, the network against
# onnxruntime's logits (one timing run each: not a benchmark here).
tests/engine/workerd_check.sh 1 1
# One file at a time: each starts its own workerd with a 32 MB model, and a
# hung request fails its test instead of the whole CI job.
exec node --test --test-reporter=spec --test-concurrency=1 --test-timeout=300000 "$@" tests/worker/
