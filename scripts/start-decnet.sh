#!/usr/bin/env bash
# npm run start:decnet: the demo over a DECNET bus. A local test double of
# DECNET's bus daemon (tests/decnet_bus.py) listens on a UNIX socket; the
# gateway bridges it (--upstream decnet:PATH), publishes the simulated fleet
# into it on a second connection, and relays what the bus delivers to the
# page: bus, gateway, registry, panel. PORT (default 8080) moves the page.
# Stop the daemon (the command is printed below) to watch the panel say the bus
# is offline while the page's own socket stays up; start:decnet restarts it
# on the same socket after 5 s, and the gateway reconnects.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
INTERVAL=2
WINDOW=$((3 * INTERVAL))
step() { printf '\n==> %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

step "Setting up the toolchain and npm packages (scripts/setup.sh --demo)"
bash scripts/setup.sh --demo
command -v python3 >/dev/null 2>&1 || { echo "start:decnet: python3 is needed for the bus daemon double" >&2; exit 1; }

step "Building the wasm package into pkg/ (scripts/build-pkg.sh)"
bash scripts/build-pkg.sh
step "Building the gateway (cargo build -p worker-gateway)"
cargo build -p worker-gateway

dir=$(mktemp -d)
socket="$dir/bus.sock"
cleanup() {
  kill "${keeper_pid:-}" 2>/dev/null || true
  [ -f "$dir/bus.pid" ] && kill "$(cat "$dir/bus.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The daemon double, restarted 5 s after it stops, as a service manager would.
step "Starting the DECNET bus daemon double on ${socket}"
(
  while :; do
    python3 tests/decnet_bus.py --socket "$socket" --health-interval 10 &
    echo $! > "$dir/bus.pid"
    wait $! || true
    [ -d "$dir" ] || exit 0
    echo "    bus: stopped; restarting in 5 s"
    sleep 5
  done
) &
keeper_pid=$!
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "start:decnet: the bus daemon double did not start" >&2; exit 1; }

step "Starting the gateway on 127.0.0.1:${PORT}: bridging ${socket}, fleet every ${INTERVAL} s"
echo "    Stop the bus to see it offline: kill \"\$(cat $dir/bus.pid)\" (it comes back 5 s later). Ctrl-C stops."
echo

# As in scripts/start.sh: echo the gateway's start-up lines, then, once they
# pause, the panel's URL (with the port picked, if PORT=0).
target/debug/worker-gateway --listen "127.0.0.1:${PORT}" --upstream "decnet:${socket}" \
    --simulate --interval "${INTERVAL}" --static www --static /pkg=pkg --admin |
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
          printf '\n    Workers panel over DECNET: %s\n\n' "$url"
          url=""
        fi
      else
        break
      fi
    done
  }
