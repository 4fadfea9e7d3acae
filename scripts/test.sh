#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs, prepares
# the model, then runs every suite and says which failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"

set -e
scripts/setup.sh
scripts/prepare-model.sh
set +e

failed=()
passed=0
suite() {
  local name="$1"
  shift
  echo
  echo "=== $name: $*"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed+=("$name")
  fi
}

suite native cargo test --workspace --locked
# Batch 8 and DenseNet-169 against onnxruntime: references made outside the
# clone (57 MB), then the engine's ignored tests that read them.
engine_variants() {
  "$VENV_DIR/bin/python" bench/engine/make_variants.py &&
    cargo test --locked -p densenet-edge-engine --test variants -- --include-ignored
}
suite engine-variants engine_variants
suite browser tests/browser/run.sh
suite worker tests/worker/run.sh

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  echo "suites: $passed passed, ${#failed[@]} failed"
  exit 1
fi
echo "suites: $passed passed, 0 failed"
