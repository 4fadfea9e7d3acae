#!/usr/bin/env bash
# The main job: set up, prepare the model, build, and classify the fixture
# photos with both engines.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

scripts/setup.sh
scripts/prepare-model.sh
cargo build --release --locked -p densenet-edge-cli
cli="$CARGO_TARGET_DIR/release/densenet-edge"
for engine in cpu webgpu; do
  "$cli" classify --engine "$engine" tests/images/photos/*
done
