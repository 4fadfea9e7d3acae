# Fallback config of tests/engine/workerd_check.sh (see both.capnp) when
# workerd does not start with relaxed.wasm as a Wasm module: simd128 alone,
# the relaxed bytes only as data for WebAssembly.validate.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "files", disk = (path = "model", writable = false)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "simd128-only.mjs", esModule = embed "simd128-only.mjs"),
    (name = "check.mjs", esModule = embed "check.mjs"),
    (name = "simd128.wasm", wasm = embed "simd128.wasm"),
    (name = "simd128.bin", data = embed "simd128.wasm"),
    (name = "relaxed.bin", data = embed "relaxed.wasm"),
  ],
  bindings = [(name = "FILES", service = "files")],
  compatibilityDate = "2026-04-01",
);
