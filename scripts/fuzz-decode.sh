#!/usr/bin/env bash
# Longer run of the decode + preprocess property test (crates/classifier/tests/fuzz_decode.rs):
#   scripts/fuzz-decode.sh [CASES=20000] [SEED=random]
# Inputs that panic or go over their memory estimate are written to $TMPDIR/fuzz-decode-*.bin.
set -euo pipefail
source "$(dirname "$0")/env.sh"
CASES="${1:-20000}"
SEED="${2:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
echo "fuzz-decode: $CASES cases, seed $SEED"
cd "$REPO_ROOT"
FUZZ_CASES="$CASES" FUZZ_SEED="$SEED" nice -n 10 cargo test --release --locked -p densenet-edge --no-default-features \
  --test fuzz_decode -- --nocapture
