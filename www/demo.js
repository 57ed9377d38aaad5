// The demo page: a WorkerRegistry fed by this host's bus gateway, shown by
// <worker-panel>. Query: ?interval=30&window=90 (seconds); for tests also
// ping, pong (keepalive, ms) and backoff (longest reconnect delay, ms).
// With ?nats=ws://host:port&user=...&pass=... it connects straight to a
// nats-server WebSocket listener instead (npm run start:nats).
import init, { WorkerRegistry } from "/pkg/index.js";
import "./worker-panel.js";

const query = new URLSearchParams(location.search);
function number(name, fallback) {
  const value = Number(query.get(name));
  return query.has(name) && Number.isFinite(value) && value > 0 ? value : fallback;
}
const interval = number("interval", 30);
const okWindow = number("window", 90);
const options = {
  pingIntervalMs: number("ping", undefined),
  pongTimeoutMs: number("pong", undefined),
  backoff: query.has("backoff") ? { maxMs: number("backoff", 30000) } : undefined,
};
let busUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/bus`;
if (query.has("nats")) {
  busUrl = query.get("nats");
  Object.assign(options, { protocol: "nats", user: query.get("user") ?? undefined, pass: query.get("pass") ?? undefined });
}

try {
  await init();
  const registry = new WorkerRegistry({ okWindowSeconds: okWindow });
  registry.start(busUrl, options);
  const panel = document.querySelector("worker-panel");
  panel.interval = interval;
  panel.registry = registry;
  window.registry = registry;
} catch (error) {
  const message = document.getElementById("error");
  message.textContent = `The registry could not start: ${error}`;
  message.hidden = false;
  throw error;
}
