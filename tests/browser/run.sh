#!/usr/bin/env bash
# Everything browser-side, from a fresh clone: builds the package, installs
# the pinned npm dev dependencies, then runs
#   1. wasm-bindgen-test of the package API in Node and headless Chromium,
#   2. the package's types against docs/answer.schema.json, the package in
#      Node, the page end to end (Playwright + Debian Chromium, WebGPU on
#      SwiftShader included), a model update under the running page, the
#      Vite app, the engine's own wasm builds
#      (simd128 in Node and Chromium, relaxed SIMD in Chromium).
# Exits non-zero when anything fails. Screenshots: tests/artifacts/.
# Skip the slow WebGPU test with BROWSER_TESTS_SKIP_WEBGPU=1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$REPO_ROOT"

[ -f model/build/densenet121-random.onnx ] || scripts/prepare-model.sh
# Also the test-trap build of the package (never published) for the
# trap-recovery tests.
scripts/build-web.sh --test-trap

# The pinned npm packages, installed only when a lockfile changed (the
# package itself is a file: link, so rebuilding it needs no reinstall):
# tests/ holds Ajv for answer-schema.mjs.
npm_install_locked tests
npm_install_locked tests/browser
npm_install_locked tests/browser/vite-app

status=0
scripts/test-web-wasm.sh all || status=1

# The engine alone, both wasm builds (engine-wasm.test.mjs).
read -r ENGINE_WASM_SIMD128 ENGINE_WASM_RELAXED < <(scripts/build-engine-wasm.sh)
export ENGINE_WASM_SIMD128 ENGINE_WASM_RELAXED

cd tests/browser
node --test --test-reporter=spec --test-concurrency=1 contract.test.mjs node.test.mjs robustness.test.mjs e2e.test.mjs model-update.test.mjs \
  robustness-chromium.test.mjs vite.test.mjs engine-wasm.test.mjs || status=1
exit $status
