#!/usr/bin/env bash
# Native CPU inference, in one run on the same ONNX file: the CPU engine
# (crates/engine, what every surface runs) interleaved with onnxruntime,
# batch 1 and 8, 1 and 2 threads, with ratios (bench/engine/bench.sh); then
# the CLI end to end (decode + preprocess + engine, every core).
#   bench/native/bench.sh [rounds]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$REPO_ROOT"
rounds="${1:-3}"
model="$(scripts/prepare-model.sh | tail -n 1)"
bench/engine/bench.sh "$model" "$rounds"
cargo build --release --locked -q -p densenet-edge-cli
cli="$CARGO_TARGET_DIR/release/densenet-edge"
echo
"$cli" bench --engine cpu --batch 1 --runs 10 --model "$model" --image tests/images/photos/chelsea.png 2>/dev/null
"$cli" bench --engine cpu --batch 8 --runs 3 --model "$model" 2>/dev/null
