# workerd config for tests/engine/workerd_check.sh, which copies this directory
# and the two wasm_check builds (simd128.wasm, relaxed.wasm) into a scratch
# directory and overrides the socket (127.0.0.1, a free port) and the "files"
# directory (the repo's model/, read only) on the command line. Both builds
# are Wasm modules here: workerd compiles them at startup.
# (simd128-only.capnp is the fallback if workerd refuses relaxed.wasm.)
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
    (name = "both.mjs", esModule = embed "both.mjs"),
    (name = "check.mjs", esModule = embed "check.mjs"),
    (name = "simd128.wasm", wasm = embed "simd128.wasm"),
    (name = "relaxed.wasm", wasm = embed "relaxed.wasm"),
    (name = "simd128.bin", data = embed "simd128.wasm"),
    (name = "relaxed.bin", data = embed "relaxed.wasm"),
  ],
  bindings = [(name = "FILES", service = "files")],
  # Same as worker/wrangler.toml.
  compatibilityDate = "2026-04-01",
);
