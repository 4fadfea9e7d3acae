#!/usr/bin/env bash
# The engine's aarch64 build, NEON kernels included, linted, then tested under
# qemu-user: the lib and kernel tests (every kernel against float64 and the portable
# one), the reader's refusals, and the whole network with NEON + Winograd
# against onnxruntime (4 photos, batch 4), and the int8 model's drift against
# onnxruntime's int8 (8 images, batch 8). Correctness only: qemu's speed says
# nothing about an aarch64 CPU's. Release build: a network run under qemu
# takes ~17 s there, minutes in debug. Installs (idempotently) what only this
# suite needs: Debian's qemu-user, aarch64 linker and libc, Rust's aarch64 std.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

apt_install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu &&
  ! timeout 900 rustup target add aarch64-unknown-linux-gnu; then
  # Exit 77: scripts/test.sh counts the suite as skipped, and says so.
  echo "*** engine-aarch64 SKIPPED: Rust's aarch64 std could not be installed (rustup target add failed) ***"
  exit 77
fi

export CARGO_TARGET_DIR="$DENSENET_EDGE_CACHE/target-engine-aarch64"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo clippy -p densenet-edge-engine --target aarch64-unknown-linux-gnu --all-targets --locked -- -D warnings
test=(cargo test --release --locked -p densenet-edge-engine --target aarch64-unknown-linux-gnu)
"${test[@]}" --lib --test kernels --test reader --test int8_kernels
ENGINE_TEST_KERNEL=neon "${test[@]}" --test reference every_kernel_matches_onnxruntime -- --nocapture
# The int8 model on NEON (its int8 kernel set, the f32 3x3 convs of blocks
# 1-2): drift against onnxruntime's, as natively.
ENGINE_TEST_KERNEL=neon "${test[@]}" --test int8_model -- --nocapture
