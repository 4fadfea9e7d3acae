# Sourced by every script: where caches and tools live, outside the clone, so
# CI and later runs reuse them.
DENSENET_EDGE_CACHE="${DENSENET_EDGE_CACHE:-$HOME/.cache/densenet-edge}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DENSENET_EDGE_CACHE REPO_ROOT
# Native builds of the root workspace.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DENSENET_EDGE_CACHE/target}"
# wasm32 builds of the root workspace (other RUSTFLAGS, so another directory).
export WASM_TARGET_DIR="${WASM_TARGET_DIR:-$DENSENET_EDGE_CACHE/target-wasm}"
# The npm package's relaxed-SIMD build (simd128 + relaxed-simd).
export WASM_RELAXED_TARGET_DIR="${WASM_RELAXED_TARGET_DIR:-$DENSENET_EDGE_CACHE/target-wasm-relaxed}"
# The Worker's own workspace.
export WORKER_TARGET_DIR="${WORKER_TARGET_DIR:-$DENSENET_EDGE_CACHE/target-worker}"
# Tools installed by scripts/setup-*.sh (cargo install --root, npm prefixes).
export TOOLS_DIR="$DENSENET_EDGE_CACHE/tools"
# Python venv for model export and reference outputs.
export VENV_DIR="$DENSENET_EDGE_CACHE/venv"
# Generated model files (gitignored).
export MODEL_BUILD_DIR="$REPO_ROOT/model/build"
export PATH="$TOOLS_DIR/bin:$PATH"

# apt_install PACKAGE...: installs the Debian packages not installed yet (as
# root, or through sudo).
apt_install() {
  local p missing=() sudo_cmd=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "apt-get install ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
}

# npm_install_locked DIR: installs DIR/package-lock.json into DIR/node_modules
# when the lockfile changed since the last install (a stamp in node_modules):
# a rerun costs nothing and needs no registry.
npm_install_locked() {
  local dir="$1" stamp="$1/node_modules/.package-lock.sha256" want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    # `npm install` honours the lockfile's versions; `npm ci` rejects the
    # vite-app lock of tests/browser (npm 11 wants rollup's optional native
    # packages of every platform listed).
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

# wasm_bindgen_version LOCKFILE: the wasm-bindgen version a Cargo.lock pins
# (wasm-bindgen-cli must be exactly that version).
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$1"
}
