#!/usr/bin/env bash
# ms per image: our engine vs onnxruntime (CPU EP, same ONNX file), batch 1
# and 8, 1 and 2 threads, interleaved in one run, with ratios; and where the
# model's int8 twin exists (<MODEL>-int8.onnx, scripts/prepare-model.sh), both
# on it too at 1 thread, with int8/f32 ratios.
#
#   bench/engine/bench.sh [MODEL] [ROUNDS]
#
# Wall time and process CPU time are both printed: on a shared machine the
# CPU-time ratio moves less. Needs the venv (scripts/env.sh) with onnxruntime.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null 2>&1 || true
MODEL=${1:-model/build/densenet121-random.onnx}
ROUNDS=${2:-3}
PY=${VENV_DIR:-$HOME/.cache/densenet-edge/venv}/bin/python
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --offline -q -p densenet-edge-engine --example timing
BIN=$CARGO_TARGET_DIR/release/examples/timing
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
echo "model $MODEL, $ROUNDS rounds, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
INT8=${MODEL%.onnx}-int8.onnx
for round in $(seq "$ROUNDS"); do
  for cfg in "1 1 10" "1 2 10" "8 1 3" "8 2 3"; do
    set -- $cfg
    echo "engine $cfg $("$BIN" "$MODEL" "$1" "$2" "$3")" | tee -a "$OUT"
    echo "ort $cfg $("$PY" bench/engine/ort_timing.py "$MODEL" "$1" "$2" "$3")" | tee -a "$OUT"
    if [ -f "$INT8" ] && [ "$2" = 1 ]; then
      echo "engine-int8 $cfg $("$BIN" "$INT8" "$1" "$2" "$3")" | tee -a "$OUT"
      echo "ort-int8 $cfg $("$PY" bench/engine/ort_timing.py "$INT8" "$1" "$2" "$3")" | tee -a "$OUT"
    fi
  done
done
"$PY" - "$OUT" <<'PYEOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, batch, threads = line.split()[:3]
    m = re.search(r"median ([\d.]+) ms/image, best ([\d.]+), cpu median ([\d.]+)", line)
    rows.setdefault((batch, threads), {}).setdefault(who, []).append(tuple(map(float, m.groups())))
med = lambda xs, i: statistics.median(x[i] for x in xs)
print()
print("ms/image, median over rounds of per-round medians (cpu = process CPU time)")
print(f"{'batch':>5} {'thr':>3} | {'engine':>8} {'ort':>8} {'ratio':>6} | {'engine cpu':>10} {'ort cpu':>8} {'ratio':>6}")
for (b, t), d in sorted(rows.items(), key=lambda kv: (int(kv[0][0]), int(kv[0][1]))):
    e, o = d["engine"], d["ort"]
    print(f"{b:>5} {t:>3} | {med(e,0):8.2f} {med(o,0):8.2f} {med(e,0)/med(o,0):6.2f} | {med(e,2):10.2f} {med(o,2):8.2f} {med(e,2)/med(o,2):6.2f}")
q = [(k, d) for k, d in sorted(rows.items(), key=lambda kv: (int(kv[0][0]), int(kv[0][1]))) if "engine-int8" in d]
if q:
    print()
    print("int8 twin, cpu ms/image: ours and onnxruntime's on the int8 file, and each against its own f32 run")
    print(f"{'batch':>5} {'thr':>3} | {'engine':>8} {'ort':>8} {'ratio':>6} | {'ours/f32':>8} {'ort/f32':>8}")
    for (b, t), d in q:
        e8, o8, e, o = d["engine-int8"], d["ort-int8"], d["engine"], d["ort"]
        print(f"{b:>5} {t:>3} | {med(e8,2):8.2f} {med(o8,2):8.2f} {med(e8,2)/med(o8,2):6.2f} | {med(e8,2)/med(e,2):8.2f} {med(o8,2)/med(o,2):8.2f}")
for t in ("1", "2"):
    if ("1", t) in rows and ("8", t) in rows:
        e1, e8 = rows[("1", t)]["engine"], rows[("8", t)]["engine"]
        print(f"engine batch 8 / batch 1 per image, {t} thread(s): wall {med(e8,0)/med(e1,0):.2f}, cpu {med(e8,2)/med(e1,2):.2f}")
PYEOF
