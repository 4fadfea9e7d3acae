#!/usr/bin/env bash
# Installs what the Worker build and its tests need, pinned, outside the clone
# (except worker/node_modules). Idempotent and quiet when everything is there.
# Needs the package registries (crates.io, npm) only on the first run.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/worker/env.sh"

say() { echo "setup-worker-tools: $*" >&2; }
# cargo install honours CARGO_TARGET_DIR: give it its own, away from the
# project's build directories (whose locks it would otherwise hold).
install_crate() { CARGO_TARGET_DIR="$DENSENET_EDGE_CACHE/target-tools" nice -n 10 cargo install --locked --quiet "$@"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# worker-build: version check, since `cargo install` of another version into
# the same root would silently replace it.
if [[ "$("$TOOLS_DIR/bin/worker-build" --version 2>/dev/null || true)" != *"$WORKER_BUILD_VERSION"* ]]; then
  say "installing worker-build $WORKER_BUILD_VERSION"
  install_crate --root "$TOOLS_DIR" "worker-build@$WORKER_BUILD_VERSION"
fi

if [[ "$("$WASM_BINDGEN_BIN" --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION"* ]]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (from worker/Cargo.lock)"
  install_crate --root "$TOOLS_DIR/wasm-bindgen-$WASM_BINDGEN_VERSION" "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
fi

# npm ci wipes node_modules, so run it only when the lockfile changed.
stamp="$WORKER_DIR/node_modules/.package-lock.sha256"
want="$(sha256sum "$WORKER_DIR/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  say "npm ci in worker/ (wrangler, binaryen)"
  (cd "$WORKER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
