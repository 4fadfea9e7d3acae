#!/usr/bin/env bash
# Builds the Worker, prepares the model (the pretrained export when
# DENSENET_EDGE_PRETRAINED=1 and it can be fetched, otherwise the seeded
# random-weight DenseNet-121, said loudly), seeds the local R2 emulation and
# serves the page and the API with `wrangler dev` on 127.0.0.1.
#   [DENSENET_EDGE_PRECISION=int8] scripts/run-worker.sh [--port N] [more wrangler dev args, e.g. --var COALESCE:true]
# Offline once scripts/setup-worker-tools.sh and scripts/setup-python.sh ran.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/build-worker.sh"
onnx="$("$here/prepare-model.sh")"
# DENSENET_EDGE_PRECISION=int8 serves the model's int8 twin (prepare-model makes it).
case "${DENSENET_EDGE_PRECISION:-f32}" in
  f32) ;;
  int8) onnx="${onnx%.onnx}-int8.onnx" ;;
  *) echo "run-worker: DENSENET_EDGE_PRECISION must be f32 or int8" >&2; exit 2 ;;
esac
source "$here/../worker/env.sh"
name="$(basename "$onnx" .onnx)"
# Both precisions go into local R2 (the page offers both); MODEL picks the API's.
base="${onnx%.onnx}"
base="${base%-int8}"
for seed in "$base" "$base-int8"; do
  seed_name="$(basename "$seed")"
  manifest="$REPO_ROOT/model/manifests/$seed_name.json"
  [[ -f "$manifest" ]] || manifest="$MODEL_BUILD_DIR/$seed_name.json"
  if [[ -f "$seed.onnx" && -f "$manifest" ]]; then
    "$here/seed-worker-model.sh" "$manifest" "$seed.onnx"
  fi
done
if [[ "$name" == *random* ]]; then
  echo "run-worker: *** SERVING THE RANDOM-WEIGHT MODEL ($name): predictions are meaningless ***" >&2
fi

port=8787
args=()
while (($#)); do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --port=*) port="${1#--port=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
echo "run-worker: http://127.0.0.1:$port/  (POST /predict, GET /health; Ctrl-C stops)" >&2
cd "$WORKER_DIR"
WORKER_PREBUILT=1 exec wrangler dev --ip 127.0.0.1 --port "$port" --var "MODEL:$name" \
  --show-interactive-dev-session=false "${args[@]}"
