#!/usr/bin/env bash
# Native CPU inference, in one run on the same ONNX file: tract (this
# project's CPU engine) at batch 1 and 4, next to onnxruntime at 1 and 2
# threads. Prints per-image latencies; compare only inside one run.
#   bench/native/bench.sh [runs]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$REPO_ROOT"
runs="${1:-10}"
model="$(scripts/prepare-model.sh | tail -n 1)"
cargo build --release --locked -q -p densenet-edge-cli
cli="$CARGO_TARGET_DIR/release/densenet-edge"
"$cli" bench --engine cpu --batch 1 --runs "$runs" --model "$model" --image tests/images/photos/chelsea.png 2>/dev/null
"$cli" bench --engine cpu --batch 4 --runs "$runs" --model "$model" 2>/dev/null
for threads in 1 2; do
  "$VENV_DIR/bin/python" bench/native/bench_onnxruntime.py "$model" --threads "$threads" --runs "$runs"
done
"$VENV_DIR/bin/python" bench/native/bench_onnxruntime.py "$model" --threads 1 --batch 4 --runs "$runs"
