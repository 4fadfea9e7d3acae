"""Per-image latency of onnxruntime (CPU) on an ONNX file: the native peer
for `densenet-edge bench`. Same probe-like input shape, min/median over runs."""
import argparse
import time

import numpy as np
import onnxruntime as ort

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--batch", type=int, default=1)
p.add_argument("--runs", type=int, default=10)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()

opts = ort.SessionOptions()
opts.intra_op_num_threads = a.threads
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).uniform(-2, 2, (a.batch, 3, 224, 224)).astype(np.float32)
sess.run(None, {"input": x})  # warm-up
times = []
for _ in range(a.runs):
    t = time.perf_counter()
    sess.run(None, {"input": x})
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(
    f"onnxruntime {ort.__version__} ({a.threads} thread), batch {a.batch}: {a.runs} runs, "
    f"min {times[0] / a.batch:.1f} ms, median {times[len(times) // 2] / a.batch:.1f} ms per image"
)
