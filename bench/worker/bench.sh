#!/usr/bin/env bash
# Benchmark (not a test): the local Worker (wrangler dev, workerd) against the
# PyTorch tutorial's Flask server (gunicorn, 1 worker), in one run, on the
# same DenseNet-121 graph (model/build/densenet121-random.onnx) and the same
# image, with the same load tool (bench/worker/load.mjs) at concurrency 1, 4
# and 16. Loopback only; bounded requests. Every server is started first,
# then the load runs in rounds, each round visiting every server in turn, so
# that the machine's drift (on this shared VM the same wasm build's time moves
# by 30% within minutes) hits all servers alike; the table gives per server
# and concurrency the median over rounds.
#
#   bench/worker/bench.sh
# Environment:
#   BENCH_IMAGE      image to send (default tests/images/photos/chelsea.png)
#   BENCH_CONC       concurrencies (default "1 4 16")
#   BENCH_REQUESTS   requests per concurrency level and round = max(BENCH_REQUESTS, 2*C) (default 24)
#   BENCH_ROUNDS     rounds (default 3)
#   BENCH_WORKER_CONFIGS  Worker configurations, each "name:VAR=v,VAR=v"
#                    (default: batch1 / coalesce off, and coalescing on at MAX_BATCH 4;
#                    the int8 twin: "int8:MODEL=densenet121-random-int8,COALESCE=false,MAX_BATCH=1")
#   BENCH_TORCH      1 (default): install torch+torchvision into the bench venv
#                    if missing (PyPI, several GB, at most 10 minutes); 0: don't
#   BENCH_FLASK      Flask peers, in order (default "torch onnxruntime"; torch is
#                    skipped, loudly, when it is not installed)
#   BENCH_PIN        workerd (default on 2+ cores): the serving process on core 0
#                    (taskset): the workerd that runs the Worker, gunicorn for
#                    Flask; the load tool and wrangler dev's own proxies (its
#                    node process, and the workerd of its proxy worker that
#                    listens on the public port and forwards every request;
#                    a deployed Worker has neither) on core 1, so req/s are
#                    per core of the server. all: the whole of wrangler dev on
#                    core 0 (the proxies share the Worker's core). 0: no pinning
#   BENCH_DIRECT     1: also load each Worker on its own workerd's socket,
#                    past wrangler's proxy worker (rows "<worker>-direct"; the
#                    same isolate, checked by its id). Not a headline figure:
#                    it shows what the proxy adds to latency (about 3 ms per
#                    request at concurrency 1 on 2026-11-24). Default 0
# Output: one JSON line per run, then a table with ratios Worker/Flask (of the
# medians, and paired by round), also written to $DENSENET_EDGE_CACHE/bench-worker/<time>.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$root/scripts/build-worker.sh"
onnx="$("$root/scripts/prepare-model.sh")"
"$root/scripts/seed-worker-model.sh"
# The int8 twin too, for a configuration with MODEL:densenet121-random-int8.
int8="${onnx%.onnx}-int8"
if [[ -f "$int8.onnx" && -f "$int8.json" ]]; then
  "$root/scripts/seed-worker-model.sh" "$int8.json" "$int8.onnx"
fi
source "$root/worker/env.sh"

image="${BENCH_IMAGE:-$root/tests/images/photos/chelsea.png}"
concs=(${BENCH_CONC:-1 4 16})
base_requests="${BENCH_REQUESTS:-24}"
rounds="${BENCH_ROUNDS:-3}"
configs=(${BENCH_WORKER_CONFIGS:-"alone:COALESCE=false,MAX_BATCH=1" "coalesce4:COALESCE=true,MAX_BATCH=4,BATCH_WAIT_MS=10"})
out_dir="$DENSENET_EDGE_CACHE/bench-worker"
mkdir -p "$out_dir"
report="$out_dir/$(date +%Y%m%d-%H%M%S).txt"
results="$(mktemp)"
say() { echo "bench: $*" >&2; }
server_cpu=()
load_cpu=()
wrangler_cpu=()
pin="${BENCH_PIN:-workerd}"
if [[ "$pin" != 0 && "$(nproc)" -ge 2 ]]; then
  server_cpu=(taskset -c 0)
  load_cpu=(taskset -c 1)
  if [[ "$pin" == all ]]; then
    wrangler_cpu=(taskset -c 0)
    say "servers (all of wrangler dev) pinned to core 0, the load tool to core 1: req/s are per core"
  else
    wrangler_cpu=(taskset -c 1)
    say "servers pinned to core 0 (the Worker's workerd; gunicorn), wrangler dev's proxies (node, its proxy worker's workerd) and the load tool to core 1: req/s are per core"
  fi
fi
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
# Moves every thread of the workerd that runs the Worker (under wrangler dev,
# pid $1) to core 0, and that of wrangler's proxy worker (the workerd
# listening on the public port $2) to core 1. Until 2026-11-24 20:15 UTC both
# went to core 0: the proxy's ~2 ms of CPU per request counted against the
# Worker.
pin_workerd() {
  local p found=0
  for p in $(descendants "$1"); do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == workerd ]] || continue
    if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--socket-addr=entry=127.0.0.1:$2 "; then
      taskset -a -p -c 1 "$p" >/dev/null
    else
      taskset -a -p -c 0 "$p" >/dev/null
      found=1
    fi
  done
  ((found)) || { say "no workerd running the Worker under wrangler dev ($1)"; return 1; }
}
# The URL of the Worker's own workerd (under wrangler dev, pid $1, public port
# $2): the listening socket that answers /health for the same isolate.
direct_url() {
  local p port want
  want="$(curl -fsS "http://127.0.0.1:$2/health" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).isolate.id))')"
  for p in $(descendants "$1"); do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == workerd ]] || continue
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "--socket-addr=entry=127.0.0.1:$2 " && continue
    for port in $(ss -Hltnp | grep "pid=$p," | grep -o '127\.0\.0\.1:[0-9]*' | cut -d: -f2); do
      if curl -fsS --max-time 5 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q "\"id\":\"$want\""; then
        echo "http://127.0.0.1:$port"
        return 0
      fi
    done
  done
  say "no socket of the Worker's workerd answers for isolate $want"
  return 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$results"; }
trap cleanup EXIT

wait_http() { # url seconds
  for _ in $(seq "$2"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 1; done
  say "no answer from $1"; return 1
}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

load() { # label url
  local label="$1" url="$2"
  for c in "${concs[@]}"; do
    local n=$(( base_requests > 2 * c ? base_requests : 2 * c ))
    local line
    line="$("${load_cpu[@]}" node "$here/load.mjs" "$url" "$image" "$c" "$n" 2)"
    echo "$label $line" | tee -a "$results"
  done
}
# "label url" of every server started, in order.
servers=()

# --- the Worker --------------------------------------------------------------
cd "$WORKER_DIR"
for cfg in "${configs[@]}"; do
  label="worker-${cfg%%:*}"
  vars=()
  IFS=, read -ra kv <<<"${cfg#*:}"
  for x in "${kv[@]}"; do vars+=(--var "${x%%=*}:${x#*=}"); done
  port="$(free_port)"
  say "starting wrangler dev ($label: ${cfg#*:}) on 127.0.0.1:$port"
  WORKER_PREBUILT=1 "${wrangler_cpu[@]}" wrangler dev --ip 127.0.0.1 --port "$port" --log-level log \
    --show-interactive-dev-session=false "${vars[@]}" >"$out_dir/$label.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/health" 90
  [[ "$pin" != workerd || ${#server_cpu[@]} == 0 ]] || pin_workerd "${pids[-1]}" "$port"
  t0=$(date +%s%N)
  curl -fsS "http://127.0.0.1:$port/health?load=1" >"$out_dir/$label.health.json"
  say "$label: model loaded in $(( ($(date +%s%N) - t0) / 1000000 )) ms (client side); $(node -e '
    const h = require(process.argv[1]);
    console.log(`server: load ${JSON.stringify(h.load)}, wasm memory after load ${(h.memory.wasm_bytes_after_load / 2 ** 20).toFixed(1)} MiB`);' "$out_dir/$label.health.json")"
  servers+=("$label http://127.0.0.1:$port")
  if [[ "${BENCH_DIRECT:-0}" == 1 ]]; then
    url="$(direct_url "${pids[-1]}" "$port")"
    say "$label-direct: the same isolate on $url (wrangler's proxy worker bypassed)"
    servers+=("$label-direct $url")
  fi
done

# --- the tutorial's Flask server ----------------------------------------------
venv="$DENSENET_EDGE_CACHE/venv-bench"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$root/bench/flask/requirements.txt" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/bench/flask/requirements.txt"
  echo "$want" >"$stamp"
fi
if [[ "${BENCH_TORCH:-1}" == 1 ]] && ! "$venv/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
  say "installing torch 2.15.0 + torchvision 0.29.2 from PyPI into $venv (large; at most 10 minutes)"
  timeout 600 "$venv/bin/pip" install -q --disable-pip-version-check torch==2.15.0 torchvision==0.29.2 \
    || say "torch install failed or timed out"
fi
cd "$root/bench/flask"
peers=()
for backend in ${BENCH_FLASK:-torch onnxruntime}; do
  if [[ "$backend" == torch ]] && ! "$venv/bin/python" -c 'import torch, torchvision' 2>/dev/null; then
    say "*** torch/torchvision are not installed in $venv: NO PyTorch Flask peer in this run ***"
    continue
  fi
  port="$(free_port)"
  DENSENET_ONNX="$onnx" BENCH_BACKEND="$backend" \
    "${server_cpu[@]}" "$venv/bin/gunicorn" -w 1 -b "127.0.0.1:$port" --timeout 120 app:app >"$out_dir/flask-$backend.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/backend" 120
  say "flask-$backend: $(curl -fsS "http://127.0.0.1:$port/backend")"
  servers+=("flask-$backend http://127.0.0.1:$port")
  peers+=("flask-$backend")
done

# --- the load, in rounds ------------------------------------------------------------
for round in $(seq "$rounds"); do
  say "round $round of $rounds"
  for server in "${servers[@]}"; do load "${server%% *}" "${server#* }/predict"; done
done
for server in "${servers[@]}"; do
  [[ "${server%% *}" == worker-* ]] || continue
  curl -fsS "${server#* }/health" >"$out_dir/${server%% *}.health-after.json"
  say "${server%% *}: wasm memory after the rounds $(node -e '
    const h = require(process.argv[1]); console.log(`${(h.memory.wasm_bytes / 2 ** 20).toFixed(1)} MiB, batches ${JSON.stringify(h.batches)}`);' "$out_dir/${server%% *}.health-after.json")"
done

# --- the table -------------------------------------------------------------------
node - "$results" "${peers[@]}" <<'JS' | tee "$report"
const fs = require('fs');
const [file, ...peers] = process.argv.slice(2);
const all = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
  const i = l.indexOf(' ');
  return { label: l.slice(0, i), ...JSON.parse(l.slice(i + 1)) };
});
// One row per server and concurrency: the median over rounds of req/s, p50,
// p99 and the server's own timings; errors summed.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h] : +((s[h - 1] + s[h]) / 2).toFixed(3);
};
const groups = new Map();
for (const r of all) {
  const key = `${r.label} ${r.concurrency}`;
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(r);
}
const rows = [...groups.values()].map((g) => ({
  label: g[0].label,
  concurrency: g[0].concurrency,
  rounds: g.length,
  req_s: median(g.map((r) => r.req_s)),
  req_s_all: g.map((r) => r.req_s),
  p50_ms: median(g.map((r) => r.p50_ms)),
  p99_ms: median(g.map((r) => r.p99_ms)),
  errors: g.reduce((a, r) => a + r.errors, 0),
  server_median: Object.fromEntries(Object.keys(g[0].server_median).map((k) => [k, median(g.map((r) => r.server_median[k]))])),
}));
const byConc = (label) => Object.fromEntries(rows.filter((r) => r.label === label).map((r) => [r.concurrency, r]));
const peerRows = peers.map((p) => [p, byConc(p)]);
const pad = (s, n) => String(s).padEnd(n);
console.log(`DenseNet-121 (random weights), one image per request, ${new Date().toISOString()}; median over ${rows[0]?.rounds} rounds (req/s of each round in [])`);
const ratioCols = peers.map((p) => pad(`x ${p}`, 20)).join('');
console.log(`${pad('server', 22)}${pad('conc', 6)}${pad('req/s', 9)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('errors', 8)}${ratioCols}server-side median ms`);
for (const r of rows) {
  const ratios = peerRows.map(([p, f]) => {
    const other = f[r.concurrency];
    return pad(other && r.label !== p && !peers.includes(r.label) ? `${(r.req_s / other.req_s).toFixed(2)} / ${(r.p50_ms / other.p50_ms).toFixed(2)}` : '', 20);
  }).join('');
  console.log(`${pad(r.label, 22)}${pad(r.concurrency, 6)}${pad(r.req_s, 9)}${pad(r.p50_ms, 9)}${pad(r.p99_ms, 9)}${pad(r.errors, 8)}${ratios}${JSON.stringify(r.server_median)} [${r.req_s_all.join(' ')}]`);
}
// Paired by round: a round loads every server in turn, minutes apart at
// most, so the ratio within a round carries less of the machine's drift
// than the ratio of two medians.
console.log('paired by round (Worker req/s / PEER req/s in the same round): median [each round], rounds >= 1');
for (const r of rows) {
  if (peers.includes(r.label)) continue;
  for (const [p, f] of peerRows) {
    const other = f[r.concurrency];
    if (!other) continue;
    const n = Math.min(r.req_s_all.length, other.req_s_all.length);
    const ratios = r.req_s_all.slice(0, n).map((x, i) => x / other.req_s_all[i]);
    const wins = ratios.filter((x) => x >= 1).length;
    console.log(`  ${pad(r.label, 22)}${pad(r.concurrency, 6)}x ${pad(p, 20)}${median(ratios).toFixed(2)} [${ratios.map((x) => x.toFixed(2)).join(' ')}] ${wins} of ${n}`);
  }
}
console.log('req/s: answered requests (200 with a class) per second; refusals (e.g. 503 under coalescing admission) are in errors, not in req/s.');
console.log('x PEER: Worker req/s / PEER req/s, Worker p50 / PEER p50, same concurrency (higher req/s, lower p50 is better for the Worker).');
if (rows.some((r) => r.label.endsWith('-direct'))) {
  console.log("*-direct: the same Worker isolate on its own workerd's socket, past wrangler dev's proxy worker; for what the proxy adds, not a headline figure.");
}
JS
say "report: $report"
