#!/usr/bin/env python3
"""ms per image for onnxruntime (CPU EP) on the same ONNX file: ort_timing.py MODEL BATCH THREADS REPS."""
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    model, batch, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    n = batch * 3 * 224 * 224
    x = ((np.arange(n, dtype=np.int64) * 7919 % 1000).astype(np.float32) / 500.0 - 1.0).reshape(batch, 3, 224, 224)
    sess.run(None, {"input": x})
    times, cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        sess.run(None, {"input": x})
        times.append((time.perf_counter() - t) * 1e3 / batch)
        cpu.append((time.process_time() - c) * 1e3 / batch)
    times.sort()
    cpu.sort()
    print(f"onnxruntime {ort.__version__} batch {batch} threads {threads}: median {times[len(times) // 2]:.2f} ms/image, "
          f"best {times[0]:.2f}, cpu median {cpu[len(cpu) // 2]:.2f}")


if __name__ == "__main__":
    main()
