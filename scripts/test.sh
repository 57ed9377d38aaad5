#!/usr/bin/env bash
# npm test: every test of the project, after the set-up a fresh machine
# needs. CI runs exactly this (through .ci/run). Each step says what it does;
# the first failure stops the run with its output above it.
#
#   npm test                 everything
#   npm test -- --quick      skip the hardening steps (fuzz, chaos, soak, load)
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
# Python module, the NATS parser, and the gateway (with a real nats-server,
# a three-node nats-server cluster, and the DECNET bus daemon double).
step "native tests" cargo test --workspace --quiet
step "build the gateway" cargo build -p worker-gateway --quiet
step "release build" bash scripts/build-pkg.sh
step "release build loads in Chromium" node --test tests/release.test.mjs
# host.js judges strings on other topics without copying them; Rust judges
# bytes. Random and mutated frames, both ways, must agree.
step "strings and bytes agree: 100,000 frames" node --test tests/differential.test.mjs
step "types: tests/types/consumer.ts, tsc --strict, moduleResolution bundler and node16" bash tests/types/check.sh
# Browser tests in headless Chromium: the JS-facing contract, and the live
# connection against real gateways and nats-server.
step "browser tests (wasm-pack test --headless --chrome)" node tests/live-harness.mjs
step "end-to-end: the Workers panel" node --test --test-concurrency=1 tests/e2e/*.test.mjs
# The package as users install it: npm pack refuses a broken pkg/; the packed
# tarball in a fresh Vite, webpack 5, Rollup 4 and esbuild app each, in Chromium.
step "the npm package in every common bundler" node --test --test-concurrency=1 tests/bundlers/prepack.test.mjs tests/bundlers/bundlers.test.mjs
# The same apps on the other Node versions package.json's "engines" names
# (each fetched once through npm into target/node/).
step "the npm package in every common bundler, on Node 22 and 24" bash -c '
  scripts/with-node.sh 22.23.5 node --test tests/bundlers/bundlers.test.mjs &&
  scripts/with-node.sh 24.22.3 node --test tests/bundlers/bundlers.test.mjs'
# The benchmark at tiny sizes, so it cannot rot; budgets are never asserted.
step "benchmark smoke run" node bench/run.mjs --smoke --no-build

if [ -z "$quick" ]; then
  # Hardening, in its quick versions (the README has the long ones).
  step "fuzzing: frame rules, NATS parser, JSON scanner, DECNET codec, 20 s each" bash scripts/fuzz.sh all 20
  step "chaos: 10 gateway and 10 nats-server restarts under a connected page" node tests/chaos.mjs --restarts 10 --transport both
  step "chaos behind the gateway: 5 DECNET daemon and 5 NATS cluster node restarts" \
    node tests/chaos.mjs --restarts 5 --transport decnet,nats-cluster
  step "soak: the demo fleet at 10x speed, 1 minute" node tests/soak.mjs --minutes 1
  step "gateway under load: 200 clients, a stuck reader, a publish flood" \
    bash -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; node tests/gateway-load.mjs --clients 200'
fi

printf '\nnpm test: all passed in %ss\n' "$(($(date +%s) - started))"
