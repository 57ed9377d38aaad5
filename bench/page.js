// Runs inside headless Chromium: each function times one variant once and
// returns numbers; bench/run.mjs interleaves the variants and takes medians.
import init, { WorkerRegistry } from "/pkg/index.js";
import { JsRegistry } from "./baseline.js";
import { WORKERS, pool } from "./frames.js";
import "/www/worker-panel.js";

// init() resolves to the module's exports, its memory among them.
const wasm = await init();

// `?before`: an earlier build of the package, served at /before/ by
// `npm run bench -- --compare DIR`, runs beside this one as impl "before".
let Before = null;
if (new URLSearchParams(location.search).has("before")) {
  const mod = await import("/before/index.js");
  await mod.default();
  Before = mod.WorkerRegistry;
}

const encoder = new TextEncoder();
const pools = {};
function frames(kind, binary) {
  const key = kind + (binary ? ":bin" : "");
  if (!pools[key]) {
    const text = pool(kind);
    pools[kind] = text;
    pools[kind + ":bin"] = text.map((t) => encoder.encode(t));
  }
  return pools[key];
}

function make(impl, options = {}) {
  const opts = { knownWorkers: WORKERS, ...options };
  if (impl === "before") return new Before(opts);
  return impl === "wasm" ? new WorkerRegistry(opts) : new JsRegistry(opts);
}

// Feeds the same frames to both with the same fixed clock and compares
// snapshots and counts: the timing means nothing unless both do the same work.
function agree(kind, impl = "wasm") {
  const clock = { monoMs: () => 1000, wallMs: () => 1764190000000 };
  const w = make(impl, { clock });
  const j = make("js", { clock });
  for (const f of frames(kind, false)) { w.ingest(f); j.ingest(f); }
  for (const f of frames(kind, true)) { w.ingest(f); j.ingest(f); }
  const a = JSON.stringify([w.snapshot(), w.stats()]);
  const b = JSON.stringify([j.snapshot(), j.stats()]);
  w.free();
  if (a !== b) throw new Error(`the baseline disagrees with the registry on ${kind} frames:\nwasm ${a}\njs   ${b}`);
  return JSON.parse(a)[1];
}

const live = {};
function registry(impl) {
  return (live[impl] ??= make(impl));
}

/** ns per frame for `n` ingests of `kind` frames. */
function ingest(impl, kind, binary, n) {
  const fs = frames(kind, binary);
  const reg = registry(impl);
  const mask = fs.length - 1;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) reg.ingest(fs[i & mask]);
  return ((performance.now() - t0) * 1e6) / n;
}

const snapRegs = {};
/** ns per snapshot() call with `workers` rows, all with beats and extras. */
function snapshot(impl, workers, n) {
  const key = impl + workers;
  if (!snapRegs[key]) {
    const names = workers === WORKERS.length ? WORKERS : Array.from({ length: workers }, (_, i) => `worker${i}`);
    const reg = make(impl, { knownWorkers: names });
    for (const name of names) {
      reg.ingest(JSON.stringify({ v: 1, id: "ab", topic: `system.${name}.health`, type: "health", ts: 1764190000.5,
        payload: { worker: name, ts: 1764190000.5, pid: 4242, uptime_s: 86400, queue_depth: 3, realism: { llm_enabled: true, llm_backend: "ollama" } } }));
    }
    reg.snapshot();
    snapRegs[key] = reg;
  }
  const reg = snapRegs[key];
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += reg.snapshot().length;
  const ns = ((performance.now() - t0) * 1e6) / n;
  if (sink !== n * workers) throw new Error("snapshot rows missing");
  return ns;
}

/** Messages/s of a real WebSocket flood into a no-op onmessage, or into the
 * registry's own socket; long tasks (>= 50 ms) observed meanwhile. */
async function flood(variant, url, count) {
  const longTasks = [];
  const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
  observer.observe({ type: "longtask" });
  const t0 = performance.now();
  let received = 0;
  if (variant === "ingest" || variant === "js") {
    // A registry fed by the page's own onmessage: the wasm one (the same
    // work as its own socket, to tell the two paths apart), or the JS
    // baseline, for scale.
    const reg = make(variant === "js" ? "js" : "wasm");
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onmessage = (e) => reg.ingest(e.data);
      ws.onclose = resolve;
      ws.onerror = reject;
    });
    const s = reg.stats();
    received = s.accepted + s.ignored + s.superseded + Object.values(s.rejected).reduce((a, b) => a + b, 0);
    reg.free?.();
  } else if (variant === "noop" || variant === "read") {
    // "read" touches each message's data, which the browser materialises
    // lazily: the least any consumer must pay.
    let sink = 0;
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onmessage = variant === "noop" ? () => { received++; } : (e) => { received++; sink += e.data.length; };
      ws.onclose = resolve;
      ws.onerror = reject;
    });
    // The last message is the gateway's {"op":"flood_done"}, a control
    // frame the registry does not count either.
    received -= 1;
  } else {
    const reg = make(variant === "before" ? "before" : "wasm");
    await new Promise((resolve) => {
      reg.onChange((r) => { if (r === "connection" && reg.connection().state === "backoff") resolve(); });
      reg.start(url, { backoff: { initialMs: 60000, maxMs: 60000 } });
    });
    const s = reg.stats();
    received = s.accepted + s.ignored + s.superseded + Object.values(s.rejected).reduce((a, b) => a + b, 0);
    await reg.stop();
    reg.free();
  }
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 100));
  observer.disconnect();
  return { received, seconds, perSecond: received / seconds, longTasks: longTasks.length, longestTaskMs: Math.max(0, ...longTasks) };
}

/** wasm memory and JS heap around `n` unknown-worker frames. */
function memory(n, kind = "unknown") {
  // "beat": allowlisted beats, every one entering a worker's history ring.
  const reg = make("wasm", kind === "beat" ? { historyLength: 1000 } : {});
  const fs = frames(kind, false);
  for (let i = 0; i < 2048; i++) reg.ingest(fs[i & 1023]);
  globalThis.gc?.();
  const before = { wasm: wasm.memory.buffer.byteLength, heap: performance.memory?.usedJSHeapSize ?? null };
  for (let i = 0; i < n; i++) reg.ingest(fs[i & 1023]);
  globalThis.gc?.();
  const after = { wasm: wasm.memory.buffer.byteLength, heap: performance.memory?.usedJSHeapSize ?? null };
  const stats = reg.stats();
  reg.free();
  return { before, after, rejected: stats.rejected.unknown_worker, accepted: stats.accepted };
}

// The original system's current allowlist size.
const PANEL_ROWS = 19;
const strips = {};

/**
 * ms per panel update with `rows` rows whose histories are full: one beat
 * recorded, then a synchronous render and the layout it causes. `strip`:
 * the registry as it is (heartbeat strips drawn); otherwise the same
 * registry without history(), so the panel draws no strip. The strip's cost
 * is the difference.
 */
function panelUpdate(strip, n) {
  let s = strips.state;
  if (s === undefined) {
    const clock = { mono: 1000, wall: 1764190000000 };
    const names = Array.from({ length: PANEL_ROWS }, (_, i) => WORKERS[i] ?? `worker${i}`);
    const reg = new WorkerRegistry({
      knownWorkers: names, okWindowSeconds: 90,
      clock: { monoMs: () => clock.mono, wallMs: () => clock.wall },
    });
    const beat = (name, ts) => reg.ingest(JSON.stringify({ v: 1, id: "ab", topic: `system.${name}.health`, type: "health", ts,
      payload: { worker: name, ts, pid: 4242, uptime_s: 86400 + ts % 1000, queue_depth: 3, realism: { llm_enabled: true, llm_backend: "ollama" } } }));
    // Full histories: 30 beats each, irregular gaps around 30 s.
    for (let k = 0; k < 30; k++) {
      for (const name of names) beat(name, 1764190000 + k * 30);
      const gap = 25000 + (k % 7) * 2000;
      clock.mono += gap;
      clock.wall += gap;
    }
    const bare = {
      snapshot: () => reg.snapshot(), connection: () => reg.connection(), stats: () => reg.stats(),
      onChange: (cb) => reg.onChange(cb), get okWindowSeconds() { return reg.okWindowSeconds; },
    };
    const panel = (registry) => {
      const el = document.createElement("worker-panel");
      el.interval = 30;
      document.body.append(el);
      el.registry = registry;
      return el;
    };
    s = strips.state = { clock, names, beat, withStrip: panel(reg), without: panel(bare), k: 0 };
  }
  const el = strip ? s.withStrip : s.without;
  el.hidden = false;
  (strip ? s.without : s.withStrip).hidden = true;
  el.refresh();
  void el.offsetHeight;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    s.clock.mono += 1600;
    s.clock.wall += 1600;
    s.k += 1;
    s.beat(s.names[s.k % s.names.length], 1764200000 + s.k);
    el.refresh();
    void el.offsetHeight; // the style and layout the update causes
  }
  return (performance.now() - t0) / n;
}

window.bench = { hasBefore: Before !== null, agree, ingest, snapshot, flood, memory, panelUpdate, crossOriginIsolated };
window.benchReady = true;
