#!/usr/bin/env bash
# Puts a model and its manifest into the Worker's local R2 emulation (bucket
# densenet-edge-models, persisted in worker/.wrangler/state, gitignored), where
# `wrangler dev` and the tests find them. Keys: `<name>.json` (the manifest)
# and the manifest's `file` (the ONNX). The Worker verifies the sha256.
#   scripts/seed-worker-model.sh [MANIFEST [ONNX]]
# Defaults: model/manifests/densenet121-random.json and model/build/<file>.
# Idempotent: does nothing when the stored manifest equals MANIFEST (the
# model is put first, so a stored manifest means its model is there too).
# Offline: wrangler's local mode touches no network.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/worker/env.sh"
bucket=densenet-edge-models

manifest="${1:-$REPO_ROOT/model/manifests/densenet121-random.json}"
manifest="$(realpath "$manifest")"
read -r name file sha <<<"$(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(m.name, m.file, m.sha256);' "$manifest")"
onnx="$(realpath "${2:-$MODEL_BUILD_DIR/$file}")"
say() { echo "seed-worker-model: $*" >&2; }

cd "$WORKER_DIR"
stored="$(wrangler r2 object get --local "$bucket/$name.json" --pipe 2>/dev/null || true)"
if [[ "$stored" == "$(cat "$manifest")" ]]; then
  say "$name already in local R2 ($bucket/$name.json, $bucket/$file)"
  exit 0
fi
[[ -f "$onnx" ]] || { say "no model file $onnx: run scripts/prepare-model.sh first"; exit 1; }
have="$(sha256sum "$onnx" | cut -d' ' -f1)"
if [[ "$have" != "$sha" ]]; then
  say "$onnx has sha256 $have, $manifest says $sha: refusing to seed it"
  exit 1
fi
say "putting $onnx ($(stat -c %s "$onnx") bytes) as $bucket/$file into local R2"
wrangler r2 object put --local "$bucket/$file" --file "$onnx" --content-type application/octet-stream >/dev/null
wrangler r2 object put --local "$bucket/$name.json" --file "$manifest" --content-type application/json >/dev/null
say "seeded $name"
