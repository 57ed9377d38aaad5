#!/usr/bin/env bash
# npm test: every test of the project, after the set-up a fresh machine
# needs. CI runs exactly this (through .ci/run). Each step says what it does;
# the first failure stops the run with its output above it.
#
#   npm test                 everything
#   npm test -- --quick      skip the long-running steps (chaos, soak, fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "npm test: unknown argument $arg" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
step() {
  local what=$1
  shift
  local t0
  t0=$(date +%s)
  printf '\n==> %s\n    $ %s\n' "$what" "$*"
  if ! "$@"; then
    printf '\nnpm test: FAILED at "%s" (after %ss)\n' "$what" "$(($(date +%s) - started))" >&2
    exit 1
  fi
  printf '<== %s: ok (%ss)\n' "$what" "$(($(date +%s) - t0))"
}

step "set-up" bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

step "format" cargo fmt --all -- --check
step "clippy, host" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "clippy, wasm32" cargo clippy -p worker-registry --all-targets --target wasm32-unknown-unknown --quiet -- -D warnings
# Native tests: the registry core, the parity test against the original
# Python module, the NATS parser, and the gateway (with a real nats-server).
step "native tests" env WR_REQUIRE_NATS=1 WR_REQUIRE_PYTHON=1 cargo test --workspace --quiet
step "build the gateway" cargo build -p worker-gateway --quiet
step "release build" bash scripts/build-pkg.sh
step "release build loads in Chromium" node --test tests/release.test.mjs
# Browser tests in headless Chromium: the JS-facing contract, and the live
# connection against real gateways and nats-server.
step "browser tests (wasm-pack test --headless --chrome)" node tests/live-harness.mjs
step "end-to-end: the Workers panel and the npm package" node --test --test-concurrency=1 tests/e2e/
# The benchmark at tiny sizes, so it cannot rot; budgets are never asserted.
step "benchmark smoke run" node bench/run.mjs --smoke --no-build

printf '\nnpm test: all passed in %ss\n' "$(($(date +%s) - started))"
