#!/usr/bin/env bash
# Installs what the build and the tests need, idempotently and with pinned
# versions: Debian packages, the wasm32 target, wasm-bindgen-cli, the Python
# venv. Safe to run again: each step checks first and does nothing when done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Debian: Vulkan's CPU driver (lavapipe) for the native WebGPU engine tests,
# Chromium and its driver for the browser tests.
apt_install mesa-vulkan-drivers libvulkan1 chromium chromium-driver

rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
# The lint suite's tools (part of the default rustup profile; added where a minimal one was installed).
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done

"$REPO_ROOT/scripts/setup-python.sh"
