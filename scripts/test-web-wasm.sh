#!/usr/bin/env bash
# wasm-bindgen-test, in Node and in headless Chromium (through
# /usr/bin/chromedriver): the shared crate's transform and label mapping
# (crates/classifier/tests/wasm.rs, no engines compiled in) and the package
# API (crates/web/tests/api.rs).
#   scripts/test-web-wasm.sh [node|chromium|all]   (default all)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
which="${1:-all}"

WB_VERSION="$(wasm_bindgen_version Cargo.lock)"
RUNNER="$TOOLS_DIR/wasm-bindgen-$WB_VERSION/bin/wasm-bindgen-test-runner"
[ -x "$RUNNER" ] || scripts/build-web.sh # installs wasm-bindgen-cli (with the runner)

export CARGO_TARGET_DIR="$WASM_TARGET_DIR"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--cfg=web_sys_unstable_apis -C target-feature=+simd128"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$RUNNER"
run_tests() {
  nice -n 10 cargo test --locked --release --target wasm32-unknown-unknown \
    -p densenet-edge --no-default-features --test wasm
  nice -n 10 cargo test --locked --release --target wasm32-unknown-unknown -p densenet-edge-web
}

if [[ "$which" == node || "$which" == all ]]; then
  echo "== wasm-bindgen-test in Node"
  run_tests
fi
if [[ "$which" == chromium || "$which" == all ]]; then
  echo "== wasm-bindgen-test in headless Chromium"
  profile="$(mktemp -d)"
  trap 'rm -rf "$profile"' EXIT
  cat > "$profile/webdriver.json" <<JSON
{ "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": [
  "--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-quic", "--user-data-dir=$profile/user-data"
] } }
JSON
  WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
    WASM_BINDGEN_TEST_WEBDRIVER_JSON="$profile/webdriver.json" WASM_BINDGEN_TEST_TIMEOUT=300 \
    run_tests
fi
