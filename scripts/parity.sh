#!/usr/bin/env bash
# Prints the parity figures: per test image, the largest uint8 difference
# from PIL after resize + crop; per photo, the largest logit difference of
# each engine from onnxruntime on the same input tensor and ONNX file.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
scripts/prepare-model.sh >/dev/null
cargo build --release --locked -q -p densenet-edge-cli
"$CARGO_TARGET_DIR/release/densenet-edge" parity "$@"
