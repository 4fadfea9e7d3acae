#!/usr/bin/env bash
# Quantizes a torchvision DenseNet ONNX export to int8 (onnxruntime's QDQ
# quantize_static with the options the project pins; see model/quantize.py and
# docs/int8-qdq.md), in the project's venv:
#
#   scripts/quantize-model.sh IN.onnx OUT.onnx [--calibration DIR] [--weights random|pretrained]
#
# Calibrates on the built-in images (corner crops of tests/images/photos) or on
# every image under DIR. Writes OUT and its manifest OUT-without-.onnx.json
# (sha256 of the bytes made here: another CPU may make other bytes), prints the
# size and the node-type counts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ $# -lt 2 ]; then
  sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
"$REPO_ROOT/scripts/setup-python.sh" >&2
exec "$VENV_DIR/bin/python" "$REPO_ROOT/model/quantize.py" "$@"
