#!/usr/bin/env bash
# Makes sure a DenseNet-121 ONNX model is in model/build and prints its path.
# Idempotent: the random-weight model is (re)generated only when it is missing
# or its sha256 differs from model/manifests/densenet121-random.json.
# DENSENET_EDGE_PRETRAINED=1 also tries the real torchvision export.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$REPO_ROOT/scripts/setup-python.sh"
py="$VENV_DIR/bin/python"

manifest_sha() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$1"; }
file_sha() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

random_onnx="$MODEL_BUILD_DIR/densenet121-random.onnx"
want="$(manifest_sha "$REPO_ROOT/model/manifests/densenet121-random.json")"
if [ "$(file_sha "$random_onnx")" != "$want" ]; then
  echo "prepare-model: generating $random_onnx" >&2
  "$py" "$REPO_ROOT/model/make_random_densenet.py" --out "$random_onnx" >&2
fi
have="$(file_sha "$random_onnx")"
if [ "$have" != "$want" ]; then
  echo "prepare-model: FATAL: $random_onnx has sha256 $have but the manifest says $want." >&2
  echo "prepare-model: the generator no longer reproduces the committed model (numpy/onnx version?)." >&2
  exit 1
fi
model="$random_onnx"

pretrained="$MODEL_BUILD_DIR/densenet121-imagenet.onnx"
if [ "${DENSENET_EDGE_PRETRAINED:-0}" = 1 ]; then
  pm="$REPO_ROOT/model/manifests/densenet121-imagenet.json"
  if [ -f "$pm" ] && [ "$(file_sha "$pretrained")" = "$(manifest_sha "$pm")" ]; then
    model="$pretrained"
  elif "$py" "$REPO_ROOT/model/export_torchvision.py" --out "$pretrained" >&2; then
    model="$pretrained"
  else
    rc=$?
    [ "$rc" = 3 ] || exit "$rc"  # 3: no torch or no download; anything else is a bug
  fi
fi
if [ "$model" = "$random_onnx" ]; then
  echo "prepare-model: *** USING THE RANDOM-WEIGHT MODEL: predictions are meaningless ***" >&2
  [ "${DENSENET_EDGE_PRETRAINED:-0}" = 1 ] || echo "prepare-model: (set DENSENET_EDGE_PRETRAINED=1 to try the pretrained export)" >&2
fi
echo "$model"
