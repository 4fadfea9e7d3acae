#!/usr/bin/env bash
# Builds the Worker (worker/build/) offline with worker-build, using only the
# tools from scripts/setup-worker-tools.sh. Prints the wasm size.
#   scripts/build-worker.sh            release build
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/setup-worker-tools.sh"
source "$here/../worker/env.sh"

cd "$WORKER_DIR"
start=$SECONDS
nice -n 10 worker-build --release
wasm="$(ls build/*.wasm 2>/dev/null | head -n 1 || true)"
[[ -n "$wasm" ]] || { echo "build-worker: no wasm in worker/build/" >&2; exit 1; }
echo "build-worker: $wasm $(stat -c %s "$wasm") bytes ($(gzip -c "$wasm" | wc -c) gzipped), $((SECONDS - start)) s" >&2
