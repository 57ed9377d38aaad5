// The demo page: a WorkerRegistry fed by this host's bus gateway, shown by
// <worker-panel>. Query: ?interval=30&window=90 (seconds); for tests also
// ping, pong (keepalive, ms) and backoff (longest reconnect delay, ms).
// Stop and Start on a row call the gateway's simulator
// (POST /admin/sim/{worker}/{stop|start}, with --admin --simulate).
// With ?nats=ws://host:port&user=...&pass=... it connects straight to a
// nats-server WebSocket listener instead (npm run start:nats).
import init, { WorkerRegistry } from "/pkg/index.js";
import "./worker-panel.js";

const THEME = [
  "--wp-bg", "--wp-fg", "--wp-muted", "--wp-border", "--wp-rule", "--wp-head", "--wp-chip", "--wp-focus",
  "--wp-good", "--wp-good-bg", "--wp-warn", "--wp-warn-bg", "--wp-bad", "--wp-bad-bg", "--wp-off", "--wp-off-bg",
  "--wp-strip", "--wp-tick", "--wp-tick-old", "--wp-button", "--wp-button-hover",
];

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
  wireActions(panel, registry);
  showTheme(panel);
} catch (error) {
  const message = document.getElementById("error");
  message.textContent = `The registry could not start: ${error}`;
  message.hidden = false;
  throw error;
}

// The simulator's switches as panel actions. The panel dispatches
// `worker-action`; this page calls the gateway and settles the button.
function wireActions(panel, registry) {
  if (query.has("nats")) return; // no gateway simulator behind a NATS bus
  panel.actions = [
    { id: "stop", label: "Stop", when: (row) => row.status === "ok" },
    { id: "start", label: "Start", when: (row) => row.status !== "ok" || row.late },
  ];
  panel.bulkActions = [{ id: "start-all", label: "Start all" }];
  const post = (worker, action) => fetch(`/admin/sim/${encodeURIComponent(worker)}/${action}`, { method: "POST" })
    .then(async (response) => {
      if (!response.ok) throw new Error((await response.text()).trim() || `HTTP ${response.status}`);
    });
  panel.addEventListener("worker-action", async (event) => {
    const { action, worker } = event.detail;
    try {
      if (action === "start-all") {
        await Promise.all(registry.knownWorkers.map((name) => post(name, "start")));
        panel.settle(null, action, { ok: true, message: "every simulated worker started" });
      } else {
        await post(worker, action);
        // The row itself changes when the worker's beats stop or resume;
        // until then the button stays pending.
      }
    } catch (error) {
      panel.settle(action === "start-all" ? null : worker, action, { ok: false, message: String(error.message ?? error) });
    }
  });
}

// The panel's theme: every --wp-* custom property and its value here.
function showTheme(panel) {
  const list = document.getElementById("theme");
  if (!list) return;
  const render = () => {
    const style = getComputedStyle(panel);
    const rows = THEME.map((name) => {
      const li = document.createElement("li");
      const value = style.getPropertyValue(name).trim();
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.background = value;
      const code = document.createElement("code");
      code.textContent = `${name}: ${value}`;
      li.append(swatch, code);
      return li;
    });
    list.replaceChildren(...rows);
  };
  render();
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", render);
}

