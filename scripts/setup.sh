#!/usr/bin/env bash
# Set-up for a fresh machine, idempotent: every step checks first and only
# installs what is missing. `npm test` and `npm start` run it; run it alone
# to see what your machine lacks.
#
#   bash scripts/setup.sh          everything the tests need
#   bash scripts/setup.sh --demo   only what the demo needs (no browser, no nats-server)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-test}
say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: MISSING: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

have cargo && have rustup || fail "Rust (cargo and rustup). Install it with:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
have node && have npm || fail "Node.js 18 or later with npm (https://nodejs.org, or your package manager)"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! have wasm-pack; then
  say "installing wasm-pack with cargo (about 2 minutes, once)"
  cargo install wasm-pack --version 0.15.1
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen of Cargo.lock, or
# wasm-pack tries to download its own copy. Not --locked: its lock file
# does not resolve here.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || fail "the wasm-bindgen version in Cargo.lock (is Cargo.lock there?)"
got=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$got" != "$want" ]; then
  say "installing wasm-bindgen-cli $want with cargo (about 2 minutes, once; found: ${got:-none})"
  cargo install wasm-bindgen-cli --version "$want" --force
fi

apt_updated=
apt_install() {
  if [ "$(id -u)" = 0 ] && have apt-get; then
    if [ -z "$apt_updated" ]; then
      say "apt-get update"
      apt-get update -qq
      apt_updated=1
    fi
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    fail "$*. As root, run:
    apt-get update && apt-get install -y $*"
  fi
}

if [ "$mode" != "--demo" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || have chromium || missing+=(chromium)
  have chromedriver || missing+=(chromium-driver)
  have nats-server || missing+=(nats-server)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  have python3 || fail "python3 (the parity test runs the original Python registry)"
  # Fuzzing needs the nightly toolchain (for libFuzzer's sanitizer flags)
  # and cargo-fuzz.
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    say "installing the nightly toolchain (for fuzzing)"
    rustup toolchain install nightly --profile minimal ||
      fail "the nightly Rust toolchain, for fuzzing. Install it with:
    rustup toolchain install nightly --profile minimal"
  fi
  if ! have cargo-fuzz; then
    say "installing cargo-fuzz with cargo (about 2 minutes, once)"
    cargo install cargo-fuzz
  fi
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "ready: $(rustc --version | cut -d' ' -f1-2), wasm-pack $(wasm-pack --version | cut -d' ' -f2), wasm-bindgen $want, node $(node --version)"
