#!/usr/bin/env bash
# Serves the page from a plain static server: scripts/serve-web.sh [port]
# (builds the package first if www/pkg is missing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
[ -f www/pkg/densenet_edge_web_bg.wasm ] || scripts/build-web.sh
[ -f model/build/densenet121-random.onnx ] || scripts/prepare-model.sh
exec node scripts/serve-web.mjs "${1:-8080}"
