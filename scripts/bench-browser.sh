#!/usr/bin/env bash
# Browser benchmark (not a test): builds the package, installs the pinned
# bench dependencies (onnxruntime-web, playwright-core), builds the tract
# peer (scripts/build-tract-peer.sh; BENCH_TRACT=0 leaves it out), runs
# bench/browser/bench.mjs.
#   scripts/bench-browser.sh [runs]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
[ -f model/build/densenet121-random.onnx ] || scripts/prepare-model.sh
scripts/build-web.sh
# playwright-core comes from tests/browser (bench.mjs reuses its launcher).
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd bench/browser && npm ci --no-audit --no-fund --loglevel=error)
if [[ ${BENCH_TRACT:-1} != 0 ]]; then
  TRACT_PEER_DIR="$(scripts/build-tract-peer.sh)"
  export TRACT_PEER_DIR
fi
exec node bench/browser/bench.mjs "${1:-10}"
