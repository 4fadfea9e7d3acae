#!/usr/bin/env bash
# Runs bench/engine/wasm_page.html in headless Chromium for the simd128 and the
# relaxed-simd builds: kernel checks, network vs onnxruntime, wasm memory.
#   bench/engine/wasm_chromium.sh
# --dump-dom only waits for async work under --virtual-time-budget, which also
# freezes performance.now(): this harness checks correctness and memory, it
# cannot time (reps stays 0).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=0
T=${CARGO_TARGET_DIR:-$PWD/target}
build() { # $1 features, $2 target dir
  RUSTFLAGS="-C target-feature=$1" CARGO_TARGET_DIR=$2 cargo build --release --offline -q \
    -p densenet-edge-engine --target wasm32-unknown-unknown --example wasm_check
}
build +simd128 "$T-wasm"
build +simd128,+relaxed-simd "$T-wasm-relaxed"
SERVE=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null; rm -rf "$SERVE"' EXIT
mkdir -p "$SERVE/model"
ln -s "$PWD/model/build" "$SERVE/model/build"
ln -s "$PWD/model/reference" "$SERVE/model/reference"
cp bench/engine/wasm_page.html "$SERVE/"
cp "$T-wasm/wasm32-unknown-unknown/release/examples/wasm_check.wasm" "$SERVE/simd128.wasm"
cp "$T-wasm-relaxed/wasm32-unknown-unknown/release/examples/wasm_check.wasm" "$SERVE/relaxed.wasm"
PORT=${PORT:-8765}
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$SERVE" >/dev/null 2>&1 &
SERVER=$!
sleep 1
status=0
for build in simd128 relaxed; do
  PROFILE=$(mktemp -d)
  out=$(timeout 300 chromium --headless --no-sandbox --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-quic --user-data-dir="$PROFILE" \
    --virtual-time-budget=600000 --dump-dom \
    "http://127.0.0.1:$PORT/wasm_page.html?wasm=/$build.wasm&reps=$REPS" 2>/dev/null \
    | sed -n '/<pre id="out">/,/<\/pre>/p' | sed 's/<[^>]*>//g')
  rm -rf "$PROFILE"
  echo "== $build build"
  echo "$out"
  grep -q "RESULT PASS" <<<"$out" || status=1
done
exit $status
