// Soak test: the demo page with its Workers panel, fed by the simulated fleet
// at 10x speed, runs for N minutes in headless Chromium while the JS heap
// (after gc()) and the wasm memory are sampled; both must stay flat.
//
//   node tests/soak.mjs [--minutes 30] [--sample-seconds 10]
//   npm run soak -- --minutes 30          (npm test runs --minutes 1)
import { readFileSync } from "node:fs";
import { launchBrowser, startGateway } from "./support/procs.mjs";

// ---- arguments ----------------------------------------------------------
const argv = process.argv.slice(2);
function flag(name, fallback) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) usage(`${name} needs a positive number`);
  return value;
}
function usage(message) {
  console.error(`soak: ${message}\nusage: node tests/soak.mjs [--minutes N] [--sample-seconds S]`);
  process.exit(2);
}
for (const a of argv) {
  if (a.startsWith("--") && !["--minutes", "--sample-seconds"].includes(a)) usage(`unknown argument ${a}`);
}
const MINUTES = flag("--minutes", 30);
const SAMPLE_S = flag("--sample-seconds", 10);
// The demo fleet at 10x speed: beats every 3 s instead of 30, window 9 s.
const INTERVAL = 3;
const WINDOW = 9;
// Limits. The wasm memory may grow while the registry warms up (first
// minute, or the first third of a short run), never after. The heap after a
// full GC must end within HEAP_SLACK of where it started.
const WARMUP_MS = Math.min(60_000, (MINUTES * 60_000) / 3);
const HEAP_SLACK = 2 * 2 ** 20;

const log = (...a) => console.log("soak:", ...a);
const MiB = (b) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const failures = [];
const check = (ok, message) => { if (!ok) failures.push(message); return ok; };

/** VmRSS of a process in bytes (Linux), or null. */
function rss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

// ---- one sample, taken inside the page ----------------------------------
// gc() (from --js-flags=--expose-gc) twice, so weak callbacks and the
// finalizers they queue have run; then the heap from
// performance.memory (precise with --enable-precise-memory-info). The wasm
// memory: importing /pkg/index.js again yields the page's own module
// instance, and calling its default init() again returns that instance's
// exports (wasm-bindgen initialises once), `memory` among them.
async function sample(page) {
  return page.evaluate(async () => {
    const mod = await import("/pkg/index.js");
    const wasm = await mod.default();
    gc();
    await new Promise((r) => setTimeout(r, 0));
    gc();
    const reg = window.registry;
    const rows = reg.snapshot();
    return {
      heap: performance.memory.usedJSHeapSize,
      wasm: wasm.memory.buffer.byteLength,
      state: reg.connection().state,
      accepted: reg.stats().accepted,
      counts: mod.debugCounts(),
      statuses: Object.fromEntries(rows.map((r) => [r.name, r.status])),
      domRows: document.querySelector("worker-panel").shadowRoot.querySelectorAll("tbody tr").length,
    };
  });
}

// ---- run ----------------------------------------------------------------
const t0 = Date.now();
let gw, browser;
const samples = [];
const consoleErrors = [];
const pageErrors = [];
let warnings = 0;
try {
  log(`starting the gateway: simulated fleet every ${INTERVAL} s, serving www/ and pkg/`);
  gw = await startGateway(["--simulate", "--interval", String(INTERVAL), "--static", "www", "--static", "/pkg=pkg"]);
  log(`gateway at ${gw.http} (pid ${gw.child.pid})`);
  browser = await launchBrowser(["--js-flags=--expose-gc", "--enable-precise-memory-info"]);
  const page = await browser.newPage();
  page.on("pageerror", (e) => { pageErrors.push(String(e)); log("PAGE ERROR:", String(e)); });
  page.on("console", (m) => {
    if (m.type() === "error") { consoleErrors.push(m.text()); log("CONSOLE ERROR:", m.text()); }
    if (m.type() === "warning") warnings++;
  });
  const url = `${gw.http}/?interval=${INTERVAL}&window=${WINDOW}`;
  log(`opening ${url} (Chromium ${browser.version()})`);
  await page.goto(url);
  await page.waitForFunction(() => window.registry !== undefined && typeof gc === "function", null, { timeout: 15000 });
  // Settle: every beating worker has been heard from (one interval plus
  // the stagger), so the first sample is the registry at work, not empty.
  await page.waitForFunction(() => window.registry.snapshot().filter((r) => r.status === "ok").length >= 8, null,
    { timeout: (INTERVAL + 10) * 1000 });

  const started = Date.now();
  const end = started + MINUTES * 60_000;
  const gwRssStart = rss(gw.child.pid);
  log(`sampling every ${SAMPLE_S} s for ${MINUTES} min (wasm memory may grow during the first ${WARMUP_MS / 1000} s only)`);
  for (let next = started; ; next += SAMPLE_S * 1000) {
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = { t: (Date.now() - started) / 1000, ...(await sample(page)) };
    samples.push(s);
    const ok = Object.values(s.statuses).filter((x) => x === "ok").length;
    log(`t=${s.t.toFixed(0).padStart(5)} s  heap ${MiB(s.heap)}  wasm ${MiB(s.wasm)}  ${s.state}, ${ok} ok, ` +
      `${s.accepted} beats, sockets ${s.counts.sockets}, timers ${s.counts.timers}`);
    if (Date.now() >= end) break;
  }
  const gwRssEnd = rss(gw.child.pid);

  // ---- checks -----------------------------------------------------------
  const first = samples[0];
  const last = samples.at(-1);
  const maxHeap = Math.max(...samples.map((s) => s.heap));
  const maxWasm = Math.max(...samples.map((s) => s.wasm));
  const baseline = samples.find((s) => s.t * 1000 >= WARMUP_MS) ?? last;
  const grew = samples.filter((s) => s.t >= baseline.t && s.wasm !== baseline.wasm);
  check(grew.length === 0,
    `wasm memory changed after warm-up: ${MiB(baseline.wasm)} at t=${baseline.t.toFixed(0)} s, then ` +
    grew.map((s) => `${MiB(s.wasm)} at t=${s.t.toFixed(0)} s`).join(", "));
  check(last.heap - first.heap <= HEAP_SLACK,
    `JS heap grew ${MiB(last.heap - first.heap)} (from ${MiB(first.heap)} to ${MiB(last.heap)}), more than ${MiB(HEAP_SLACK)}`);
  check(consoleErrors.length === 0, `${consoleErrors.length} console error(s), first: ${consoleErrors[0]}`);
  check(pageErrors.length === 0, `${pageErrors.length} page error(s), first: ${pageErrors[0]}`);
  // The page kept working: connected, every row where the demo fleet puts
  // it, beats still arriving, one socket and at most status+ping+pong timers.
  check(last.state === "open", `the registry is ${last.state} at the end, not open`);
  const expected = { forwarder: "stale", updater: "unknown" };
  for (const [name, status] of Object.entries(last.statuses)) {
    const want = expected[name] ?? "ok";
    check(status === want, `row ${name} is ${status} at the end, expected ${want}`);
  }
  check(Object.keys(last.statuses).length === 10 && last.domRows === 10,
    `expected 10 rows (registry and panel), got ${Object.keys(last.statuses).length} and ${last.domRows}`);
  const minBeats = Math.floor((MINUTES * 60) / INTERVAL) * 8 * 0.8;
  check(last.accepted - first.accepted >= minBeats,
    `only ${last.accepted - first.accepted} beats recorded during the run (expected at least ${minBeats})`);
  check(last.counts.sockets === 1 && last.counts.timers <= 3,
    `debugCounts at the end: ${JSON.stringify(last.counts)} (expected 1 socket, at most 3 timers)`);

  // ---- summary ----------------------------------------------------------
  console.log("\nsoak: figures");
  console.log(`  duration          ${((Date.now() - started) / 60000).toFixed(1)} min sampled, ${samples.length} samples (total run ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  console.log(`  JS heap after GC  start ${MiB(first.heap)}, end ${MiB(last.heap)}, max ${MiB(maxHeap)}, end - start ${MiB(last.heap - first.heap)} (limit +${MiB(HEAP_SLACK)})`);
  console.log(`  wasm memory       start ${MiB(first.wasm)}, end ${MiB(last.wasm)}, max ${MiB(maxWasm)}, after warm-up (t=${baseline.t.toFixed(0)} s) ${grew.length ? "CHANGED" : "unchanged"}`);
  console.log(`  beats recorded    ${last.accepted - first.accepted} during sampling (${last.accepted} in all)`);
  console.log(`  debugCounts end   sockets ${last.counts.sockets}, timers ${last.counts.timers}`);
  console.log(`  errors            console ${consoleErrors.length}, page ${pageErrors.length} (console warnings ${warnings})`);
  if (gwRssStart && gwRssEnd) console.log(`  gateway RSS       start ${MiB(gwRssStart)}, end ${MiB(gwRssEnd)} (for information)`);
} catch (e) {
  failures.push(`the soak could not run: ${e.stack ?? e}`);
} finally {
  await browser?.close().catch(() => {});
  await gw?.stop().catch(() => {});
}

if (failures.length) {
  console.error(`\nsoak: FAILED (${failures.length} check(s)):\n  - ${failures.join("\n  - ")}`);
  process.exit(1);
}
console.log(`\nsoak: passed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
