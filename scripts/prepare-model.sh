#!/usr/bin/env bash
# Makes sure a DenseNet-121 ONNX model is in model/build and prints its path.
# Idempotent: the random-weight model is (re)generated only when it is missing
# or its sha256 differs from model/manifests/densenet121-random.json.
# DENSENET_EDGE_PRETRAINED=1 also tries the real torchvision export.
# Each f32 model gets its int8 twin beside it (model/quantize.py: onnxruntime's
# QDQ quantize_static, calibrated on the built-in images), with its manifest
# <name>-int8.json written there (its sha256 is that of the bytes made here:
# calibration runs onnxruntime's float kernels, so another CPU may make other
# bytes); remade only when missing or out of date (quantize.py --up-to-date).
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

# int8_twin F32: makes F32's int8 twin (model/build/<name>-int8.onnx) unless up to date.
int8_twin() {
  local q="${1%.onnx}-int8.onnx"
  if ! "$py" "$REPO_ROOT/model/quantize.py" "$1" "$q" --up-to-date; then
    echo "prepare-model: quantizing $1 -> $q" >&2
    "$py" "$REPO_ROOT/model/quantize.py" "$1" "$q" >&2
  fi
}
int8_twin "$random_onnx"

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
[ "$model" = "$random_onnx" ] || int8_twin "$model"
if [ "$model" = "$random_onnx" ]; then
  echo "prepare-model: *** USING THE RANDOM-WEIGHT MODEL: predictions are meaningless ***" >&2
  [ "${DENSENET_EDGE_PRETRAINED:-0}" = 1 ] || echo "prepare-model: (set DENSENET_EDGE_PRETRAINED=1 to try the pretrained export)" >&2
fi
echo "$model"
