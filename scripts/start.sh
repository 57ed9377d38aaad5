#!/usr/bin/env bash
# npm start: builds the package and the dev gateway, then serves the demo page
# with a simulated fleet beating every 2 s. PORT overrides 8080 (0: any free port).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
INTERVAL=2
WINDOW=$((3 * INTERVAL))

step() { printf '\n==> %s\n' "$*"; }

if [ -f scripts/setup.sh ]; then
  step "Setting up the toolchain and npm packages (scripts/setup.sh --demo)"
  bash scripts/setup.sh --demo
elif [ ! -x node_modules/.bin/wasm-opt ]; then
  step "Installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "start: cargo is not installed; install Rust from https://rustup.rs and run 'npm start' again" >&2
  exit 1
fi

step "Building the wasm package into pkg/ (scripts/build-pkg.sh)"
bash scripts/build-pkg.sh

step "Building the dev gateway (cargo build -p worker-gateway)"
cargo build -p worker-gateway

step "Starting the gateway on 127.0.0.1:${PORT}: simulated fleet every ${INTERVAL} s, www/ at /, pkg/ at /pkg/"
echo "    updater never starts (UNKNOWN), forwarder goes silent after 3 beats (STALE),"
echo "    prober slows down now and then (LATE), and a rogue 'intruder' beats too (refused:"
echo "    not on the allowlist). Stop and Start on a row switch that worker. Ctrl-C stops."
echo

# The gateway's first line names the bound address (the port, if PORT=0).
# Echo its start-up lines, then, once they pause, the panel's URL, last, where
# it is easy to find.
target/debug/worker-gateway --listen "127.0.0.1:${PORT}" --simulate --interval "${INTERVAL}" \
    --static www --static /pkg=pkg --admin |
  {
    url=""
    while :; do
      if IFS= read -r -t 0.5 line; then
        printf '%s\n' "$line"
        case "$line" in
          "worker-gateway listening on "*) url="${line#worker-gateway listening on }/?interval=${INTERVAL}&window=${WINDOW}" ;;
        esac
      elif [ $? -gt 128 ]; then
        if [ -n "$url" ]; then
          printf '\n    Workers panel: %s\n\n' "$url"
          url=""
        fi
      else
        break
      fi
    done
  }
