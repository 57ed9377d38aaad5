#!/usr/bin/env bash
# npm run start:nats: the demo on a real NATS bus. nats-server runs with a
# WebSocket listener and two users (the dashboard may only subscribe to the
# health subjects; the fleet's publisher may only publish), the dev gateway's
# simulated fleet publishes to it, and the page connects straight to
# nats-server: no gateway of ours between the bus and the browser.
# PORT (default 8080), NATS_PORT (4222) and NATS_WS_PORT (8443) move the ports.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
NATS_PORT="${NATS_PORT:-4222}"
NATS_WS_PORT="${NATS_WS_PORT:-8443}"
INTERVAL=2
WINDOW=$((3 * INTERVAL))
step() { printf '\n==> %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/sbin"

step "Setting up the toolchain and npm packages (scripts/setup.sh --demo)"
bash scripts/setup.sh --demo
if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "Installing nats-server (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "start:nats: nats-server is missing. Install it (Debian: sudo apt-get install nats-server, or https://nats.io/download) and run again." >&2
    exit 1
  fi
fi

step "Building the wasm package into pkg/ (scripts/build-pkg.sh)"
bash scripts/build-pkg.sh
step "Building the dev gateway (cargo build -p worker-gateway)"
cargo build -p worker-gateway

dir=$(mktemp -d)
cleanup() { kill "${nats_pid:-}" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
cat > "$dir/nats.conf" <<CONF
listen: 127.0.0.1:${NATS_PORT}
websocket {
  host: 127.0.0.1
  port: ${NATS_WS_PORT}
  no_tls: true            # TLS in production
  same_origin: false
  allowed_origins: ["http://127.0.0.1:${PORT}"]
}
authorization {
  users: [
    { user: "dashboard", password: "dashboard-demo",
      permissions: { subscribe: ["system.*.health", "system.bus.health"], publish: { deny: ">" } } }
    { user: "fleet", password: "fleet-demo",
      permissions: { publish: ["system.>", "attacker.>"], subscribe: ["system.*.health", "_INBOX.>"] } }
  ]
}
CONF
step "Starting nats-server: NATS on 127.0.0.1:${NATS_PORT}, WebSocket on 127.0.0.1:${NATS_WS_PORT}"
nats-server -c "$dir/nats.conf" &
nats_pid=$!
sleep 0.5
kill -0 "$nats_pid" 2>/dev/null || { echo "start:nats: nats-server did not start (ports ${NATS_PORT}/${NATS_WS_PORT} taken?)" >&2; exit 1; }

step "Starting the gateway on 127.0.0.1:${PORT}: the page, and the fleet publishing to NATS every ${INTERVAL} s"
printf '\n    Workers panel on NATS: http://127.0.0.1:%s/?interval=%s&window=%s&nats=ws://127.0.0.1:%s&user=dashboard&pass=dashboard-demo\n\n' \
  "$PORT" "$INTERVAL" "$WINDOW" "$NATS_WS_PORT"
target/debug/worker-gateway --listen "127.0.0.1:${PORT}" --simulate --interval "${INTERVAL}" \
  --upstream "nats://127.0.0.1:${NATS_PORT}" --nats-user fleet --nats-pass fleet-demo \
  --static www --static /pkg=pkg
