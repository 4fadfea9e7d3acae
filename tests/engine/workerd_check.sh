#!/usr/bin/env bash
# The engine's wasm builds in workerd, the runtime under the Worker: does it
# accept the relaxed-SIMD build, and do both builds give onnxruntime's logits
# there? Builds crates/engine/examples/wasm_check.rs twice (simd128;
# simd128+relaxed-simd) into their own target dirs under $DENSENET_EDGE_CACHE,
# runs both in the workerd of worker/node_modules with a minimal config
# (tests/engine/workerd/): kernel checks, the 4 photos and batch 4 vs
# onnxruntime (max |diff| <= 1e-4), then batch 1 and batch 8 timed
# interleaved (median ms/image) and wasm memory; prints the JSON and a
# side-by-side line.
#   tests/engine/workerd_check.sh [reps (batch 1 runs per build, default 9)] [reps8 (batch 8 runs, default 3)]
# Needs: the model (scripts/prepare-model.sh), workerd (scripts/setup-worker-tools.sh).
# Exits non-zero if a check fails; the timings never fail it (they move with
# the machine's load), so tests/worker/run.sh runs it with one rep each and
# a benchmark asks for more.
# Timing runs inside the isolate: local workerd's performance.now() advances
# during compute (deployed Workers freeze it between I/O; "clockAdvances" checks).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/env.sh"
cd "$REPO_ROOT"
REPS=${1:-9}
REPS8=${2:-3}

WORKERD=""
for w in worker/node_modules/@cloudflare/workerd-linux-64/bin/workerd worker/node_modules/workerd/bin/workerd; do
  [[ -x $w ]] && { WORKERD=$PWD/$w; break; }
done
[[ -n $WORKERD ]] || { echo "workerd not installed: run scripts/setup-worker-tools.sh" >&2; exit 2; }
[[ -f model/build/densenet121-random.onnx ]] || { echo "no model: run scripts/prepare-model.sh" >&2; exit 2; }

# Prebuilt modules (ENGINE_WASM_SIMD128 and ENGINE_WASM_RELAXED: another
# build of the engine, for an A/B in the same harness), or this tree's.
if [[ -n ${ENGINE_WASM_SIMD128:-} && -n ${ENGINE_WASM_RELAXED:-} ]]; then
  SIMD_WASM=$ENGINE_WASM_SIMD128 RELAXED_WASM=$ENGINE_WASM_RELAXED
else
  read -r SIMD_WASM RELAXED_WASM < <(scripts/build-engine-wasm.sh)
fi

STAGE=$(mktemp -d)
WD_PID=""
cleanup() {
  if [[ -n $WD_PID ]]; then kill "$WD_PID" 2>/dev/null || true; wait "$WD_PID" 2>/dev/null || true; fi
  rm -rf "$STAGE"
}
trap cleanup EXIT
cp tests/engine/workerd/*.mjs tests/engine/workerd/*.capnp "$STAGE/"
cp "$SIMD_WASM" "$STAGE/simd128.wasm"
cp "$RELAXED_WASM" "$STAGE/relaxed.wasm"

# Starts workerd with config $1.capnp; sets PORT once it listens, or returns 1.
start() {
  : >"$STAGE/control" >"$STAGE/workerd.log"
  (cd "$STAGE" && exec timeout 900 nice -n 10 "$WORKERD" serve --socket-addr http=127.0.0.1:0 \
    --directory-path "files=$REPO_ROOT/model" --control-fd=3 "$1.capnp" 3>"$STAGE/control" >>"$STAGE/workerd.log" 2>&1) &
  WD_PID=$!
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's/.*"socket":"http","port":\([0-9]*\).*/\1/p' "$STAGE/control" | head -1)
    [[ -n $PORT ]] && curl -sf -m 5 "http://127.0.0.1:$PORT/ready" >/dev/null && return 0
    kill -0 "$WD_PID" 2>/dev/null || { wait "$WD_PID" 2>/dev/null || true; WD_PID=""; return 1; }
    sleep 0.2
  done
  return 1
}

echo "workerd: $("$WORKERD" --version) ($WORKERD)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
RELAXED_STARTS=yes
if ! start both; then
  RELAXED_STARTS=no
  echo "workerd did not start with relaxed.wasm as a module:" >&2
  cat "$STAGE/workerd.log" >&2
  [[ -n $WD_PID ]] && { kill "$WD_PID" 2>/dev/null || true; wait "$WD_PID" 2>/dev/null || true; WD_PID=""; }
  start simd128-only || { cat "$STAGE/workerd.log" >&2; echo "workerd did not start" >&2; exit 1; }
fi
status=0
json=$(curl -s -m 840 "http://127.0.0.1:$PORT/?reps=$REPS&reps8=$REPS8") || status=$?
kill "$WD_PID" 2>/dev/null || true; wait "$WD_PID" 2>/dev/null || true; WD_PID=""
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -s $STAGE/workerd.log ]] && { echo "workerd log:"; cat "$STAGE/workerd.log"; }
[[ $status -eq 0 && -n $json ]] || { echo "request failed (curl $status)" >&2; exit 1; }
jq -c 'del(.builds)' <<<"$json"
jq -c '.builds | to_entries[] | {build: .key} + .value' <<<"$json"
# For contrast: Node 20 (V8 11.3) rejects relaxed SIMD.
node_validate=$(node -e 'console.log(process.version, WebAssembly.validate(require("fs").readFileSync(process.argv[1])))' \
  "$STAGE/relaxed.wasm" 2>/dev/null || echo "? ?")
jq -r --arg starts "$RELAXED_STARTS" --arg node "$node_validate" '
  def f: if . == null then "-" else tostring end;
  def ratio(a; b): if (a | type) == "number" and (b | type) == "number" then (a / b * 100 | round) / 100 | tostring else "-" end;
  .builds.simd128 as $s | .builds.relaxed as $r |
  "workerd: simd128 \($s.batch1MsPerImage|f) ms/image (batch 8: \($s.batch8MsPerImage|f)), relaxed \($r.batch1MsPerImage|f) ms/image (batch 8: \($r.batch8MsPerImage|f)), relaxed/simd128 \(ratio($r.batch1MsPerImage; $s.batch1MsPerImage)) (batch 8: \(ratio($r.batch8MsPerImage; $s.batch8MsPerImage)))",
  "relaxed build: WebAssembly.validate in workerd \(.validate.relaxed), compiled as a module at startup: \($starts) (Node \($node | split(" ")[0]) validate: \($node | split(" ")[1])); simd128 validate \(.validate.simd128)",
  "memory after load: simd128 \($s.memAfterLoadMiB) MiB, relaxed \($r.memAfterLoadMiB|f) MiB; after batch 8: \($s.memAfterBatch8MiB) / \($r.memAfterBatch8MiB|f) MiB",
  "max |diff| vs onnxruntime (4 photos, batch 4): simd128 \([$s.maxDiff[]?] | max | f), relaxed \([$r.maxDiff[]?] | max | f); pass \(.pass)\(if .error then "; error: " + .error else "" end)"
' <<<"$json"
[[ $(jq -r .pass <<<"$json") == true ]]
