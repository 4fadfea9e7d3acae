# Sourced by scripts/setup-worker-tools.sh, scripts/build-worker.sh and
# tests/worker/run.sh: where the Worker's tools live, and the variables that
# keep worker-build from downloading anything.
# shellcheck source=../scripts/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/env.sh"
WORKER_DIR="$REPO_ROOT/worker"
WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen-cli must equal the wasm-bindgen library in worker/Cargo.lock.
WASM_BINDGEN_VERSION="$(wasm_bindgen_version "$WORKER_DIR/Cargo.lock")"
export WORKER_DIR WORKER_BUILD_VERSION WASM_BINDGEN_VERSION
# Versioned root: the root workspace's Cargo.lock may pin another wasm-bindgen.
export WASM_BINDGEN_BIN="$TOOLS_DIR/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
# Both from worker/node_modules (package-lock.json): binaryen 132 is the
# wasm-opt worker-build 0.8.7 would fetch; esbuild comes with wrangler.
export WASM_OPT_BIN="$WORKER_DIR/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$WORKER_DIR/node_modules/.bin/esbuild"
export CARGO_TARGET_DIR="$WORKER_TARGET_DIR"
export PATH="$WORKER_DIR/node_modules/.bin:$PATH"
# wrangler: no telemetry, no update check over a closed network.
export WRANGLER_SEND_METRICS=false
export WRANGLER_HIDE_BANNER=true
export WRANGLER_SEND_ERROR_REPORTS=false
# worker-build sets this for its cargo build and wasm-bindgen's proc-macro
# reads it untracked: set it here too so a plain `cargo build` in
# $WORKER_TARGET_DIR makes the same artifacts instead of poisoning the cache.
export WASM_BINDGEN_USE_JS_SYS=1
