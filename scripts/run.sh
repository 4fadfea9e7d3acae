#!/usr/bin/env bash
# The main job: install what is missing, prepare the model, build the browser
# package and the Worker, then serve the page and POST /predict locally with
# `wrangler dev` on 127.0.0.1 (prints the URL; Ctrl-C stops).
#   scripts/run.sh [--port N]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

scripts/setup.sh
scripts/prepare-model.sh >/dev/null
scripts/build-web.sh
exec scripts/run-worker.sh "$@"
