// npm run bench: the speed and size budgets of docs/contract.md, section 8 "Budgets", measured as
// ratios against a plain JavaScript implementation of the same contract, side
// by side in one headless Chromium page (cross-origin isolated, so
// performance.now() has 5 us resolution). Variants are interleaved and run at
// least 5 times; medians are reported with min and max. Nothing here is a
// pass/fail test: `npm test` runs `--smoke` only so the benchmark cannot rot.
//
//   npm run bench                 the full run (a few minutes)
//   npm run bench -- --smoke      tiny sizes, seconds
//   npm run bench -- --runs 9     more runs per variant
//   npm run bench -- --compare DIR
//                                 also run an earlier build's pkg/ directory
//                                 in the same page, interleaved with this
//                                 one, and report this build against it run
//                                 by run (paired medians: drift between runs
//                                 cancels out); --compare-label TEXT names it
//                                 in the table
//   npm run bench -- --no-bundles leave out the bundle sizes (they pack the
//                                 package and build tests/bundlers/*, a minute
//                                 or two; the smoke run leaves them out unless
//                                 given --bundles)
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, chromiumPath, ROOT, startGateway } from "../tests/support/procs.mjs";
import { serveStatic } from "../tests/support/static.mjs";
import { measureBundles } from "../tests/bundlers/matrix.mjs";

const args = process.argv.slice(2);
const smoke = args.includes("--smoke");
const bundles = smoke ? args.includes("--bundles") : !args.includes("--no-bundles");
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const compareAt = args.indexOf("--compare");
const compareDir = compareAt >= 0 ? args[compareAt + 1] : null;
const labelAt = args.indexOf("--compare-label");
const compareLabel = labelAt >= 0 ? args[labelAt + 1] : `\`${compareDir}\``;
const RUNS = flag("--runs", smoke ? 2 : 7);
const FRAMES = flag("--frames", smoke ? 4096 : 1_000_000);
const SNAPSHOTS = smoke ? 1000 : 200_000;
const FLOOD = flag("--flood", smoke ? 2000 : 100_000);
const MEMORY_FRAMES = smoke ? 20_000 : 1_000_000;
const log = (...a) => console.error("bench:", ...a);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length });

if (!args.includes("--no-build")) {
  log("building the release package (scripts/build-pkg.sh)");
  execFileSync("bash", [join(ROOT, "scripts/build-pkg.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  // A debug gateway could be slower than the browser and make the flood
  // measure the gateway; the full run uses a release build.
  const profile = smoke ? [] : ["--release"];
  log(`building worker-gateway ${smoke ? "(debug)" : "(release)"}`);
  execFileSync("cargo", ["build", "-q", "-p", "worker-gateway", ...profile], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
}
process.env.WR_GATEWAY_BIN ??= join(ROOT, smoke ? "target/debug/worker-gateway" : "target/release/worker-gateway");

function sizes() {
  const read = (p) => readFileSync(join(ROOT, p));
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const wasm = read("pkg/worker_registry_bg.wasm");
  const glue = read("pkg/worker_registry.js");
  const snippets = readdirSync(join(ROOT, "pkg/snippets")).map((d) => read(`pkg/snippets/${d}/src/host.js`));
  const own = [...snippets, read("pkg/index.js")];
  // A page downloads the three files separately, each compressed on its
  // own: the budget is the sum of their gzipped sizes.
  const all = [glue, ...own];
  return {
    wasm: { raw: wasm.length, gzip: gz(wasm), brotli: br(wasm) },
    glue: { raw: glue.length, gzip: gz(glue) },
    hostAndEntry: { raw: own.reduce((n, b) => n + b.length, 0), gzip: own.reduce((n, b) => n + gz(b), 0) },
    allJs: { raw: all.reduce((n, b) => n + b.length, 0), gzip: all.reduce((n, b) => n + gz(b), 0) },
  };
}

const mounts = { "/": join(ROOT, "bench"), "/pkg": join(ROOT, "pkg"), "/www": join(ROOT, "www") };
if (compareDir) mounts["/before"] = compareDir;
const server = await serveStatic(mounts);
const gateway = await startGateway(["--admin", "--allow-origin", "*"]);
const browser = await chromium.launch({
  executablePath: chromiumPath(),
  args: [...CHROMIUM_ARGS, "--js-flags=--expose-gc", "--enable-precise-memory-info"],
});
const results = {};
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => log("page error:", e));
  await page.goto(`${server.url}/page.html${compareDir ? "?before" : ""}`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
  const isolated = await page.evaluate(() => window.crossOriginIsolated);
  if (!isolated) throw new Error("the benchmark page is not cross-origin isolated: timings would be coarse");

  results.machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    chromium: browser.version(),
    node: process.version,
    date: new Date().toISOString(),
    smoke,
    runs: RUNS,
    frames: FRAMES,
  };
  log(`Chromium ${results.machine.chromium} on ${results.machine.cpu} (${results.machine.cores} cores)`);

  // 1. Both implementations agree before anything is timed.
  results.agreement = {};
  for (const kind of ["beat", "other", "unknown", "malformed", "mix"]) {
    results.agreement[kind] = await page.evaluate((k) => window.bench.agree(k), kind);
  }
  log("the JS baseline and the wasm registry agree on every frame kind");
  if (compareDir) {
    if (!(await page.evaluate(() => window.bench.hasBefore))) throw new Error(`--compare ${compareDir}: the earlier build did not load`);
    log(`comparing with the earlier build in ${compareDir}`);
  }
  // Each run visits the implementations in a rotated order.
  const IMPLS = compareDir ? ["wasm", "before", "js"] : ["wasm", "js"];
  const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);

  // 2. ingest, interleaved: each run visits every case in a new order, and
  // alternates which implementation goes first. One warm-up run first.
  const cases = [];
  for (const kind of ["beat", "other", "unknown", "mix"]) for (const binary of [false, true]) cases.push({ kind, binary });
  const times = {};
  for (let run = -1; run < RUNS; run++) {
    const order = [...cases].sort(() => Math.random() - 0.5);
    for (const c of order) {
      for (const impl of rotate(IMPLS, run + 1)) {
        const ns = await page.evaluate(([i, k, b, n]) => window.bench.ingest(i, k, b, n), [impl, c.kind, c.binary, FRAMES]);
        if (run >= 0) (times[`${impl}:${c.kind}:${c.binary ? "bytes" : "text"}`] ??= []).push(ns);
      }
    }
    if (run >= 0) log(`ingest run ${run + 1}/${RUNS} done`);
  }
  results.ingest = {};
  for (const c of cases) {
    const key = `${c.kind}:${c.binary ? "bytes" : "text"}`;
    const wasm = summary(times[`wasm:${key}`]);
    const js = summary(times[`js:${key}`]);
    results.ingest[key] = { wasm, js, ratio: wasm.median / js.median };
  }

  // 3. snapshot() for 10 and 100 rows.
  const snaps = {};
  for (let run = -1; run < RUNS; run++) {
    for (const rows of [10, 100]) {
      for (const impl of rotate(IMPLS, run + 1)) {
        const ns = await page.evaluate(([i, r, n]) => window.bench.snapshot(i, r, n), [impl, rows, SNAPSHOTS]);
        if (run >= 0) (snaps[`${impl}:${rows}`] ??= []).push(ns);
      }
    }
  }
  results.snapshot = {};
  for (const rows of [10, 100]) {
    const wasm = summary(snaps[`wasm:${rows}`]);
    const js = summary(snaps[`js:${rows}`]);
    results.snapshot[rows] = { wasm, js, ratio: wasm.median / js.median };
  }
  log("snapshot done");

  // 4. A real WebSocket flood from the dev gateway.
  const floodUrl = `${gateway.url.replace("/bus", "")}/admin/flood?count=${FLOOD}&kind=mix`;
  // no-op onmessage (the budget's reference), one that only reads each
  // message's data, the JS baseline fed by onmessage, and the registry on
  // its own socket.
  const variants = ["noop", "read", "js", "registry", ...(compareDir ? ["before"] : [])];
  const floods = Object.fromEntries(variants.map((v) => [v, []]));
  for (let run = 0; run < (smoke ? 2 : 5); run++) {
    for (const v of run & 1 ? [...variants].reverse() : variants) {
      floods[v].push(await page.evaluate(([variant, url, n]) => window.bench.flood(variant, url, n), [v, floodUrl, FLOOD]));
    }
  }
  results.flood = {};
  for (const v of variants) {
    results.flood[v] = {
      perSecond: summary(floods[v].map((f) => f.perSecond)),
      received: floods[v].map((f) => f.received),
      seconds: floods[v].reduce((a, f) => a + f.seconds, 0),
      longTasks: floods[v].reduce((a, f) => a + f.longTasks, 0),
      longestTaskMs: Math.max(...floods[v].map((f) => f.longestTaskMs)),
    };
  }
  results.flood.ratio = results.flood.registry.perSecond.median / results.flood.noop.perSecond.median;
  for (const v of variants) {
    if (floods[v].some((f) => f.received !== FLOOD)) throw new Error(`flood ${v}: expected ${FLOOD} messages, got ${floods[v].map((f) => f.received)}`);
  }
  log("flood done");

  // 4b. This build against the earlier one, run by run.
  if (compareDir) {
    const paired = (now, before) => summary(now.map((x, i) => x / before[i]));
    results.compare = { label: compareLabel, ingest: {}, snapshot: {} };
    for (const key of Object.keys(results.ingest)) {
      results.compare.ingest[key] = {
        now: results.ingest[key].ratio,
        before: median(times[`before:${key}`]) / results.ingest[key].js.median,
        change: paired(times[`wasm:${key}`], times[`before:${key}`]),
      };
    }
    for (const rows of [10, 100]) {
      results.compare.snapshot[rows] = {
        now: results.snapshot[rows].ratio,
        before: median(snaps[`before:${rows}`]) / results.snapshot[rows].js.median,
        change: paired(snaps[`wasm:${rows}`], snaps[`before:${rows}`]),
      };
    }
    // Throughput: higher is better, so the change is before/now in time.
    results.compare.flood = {
      now: results.flood.ratio,
      before: results.flood.before.perSecond.median / results.flood.noop.perSecond.median,
      change: paired(floods.before.map((f) => f.perSecond), floods.registry.map((f) => f.perSecond)),
    };
  }

  // 5. The Workers panel: an update of a 19-row panel, with and without
  // heartbeat strips (budget: the strips cost at most 2 ms).
  const updates = { strip: [], bare: [] };
  for (let run = -1; run < RUNS; run++) {
    for (const strip of run & 1 ? [false, true] : [true, false]) {
      const ms = await page.evaluate(([st, n]) => window.bench.panelUpdate(st, n), [strip, smoke ? 20 : 400]);
      if (run >= 0) updates[strip ? "strip" : "bare"].push(ms);
    }
  }
  results.panel = { strip: summary(updates.strip), bare: summary(updates.bare) };
  results.panel.stripCost = results.panel.strip.median - results.panel.bare.median;
  log("panel done");

  // 6. Memory around a million unknown-worker frames.
  results.memory = await page.evaluate((n) => window.bench.memory(n), MEMORY_FRAMES);
  results.memory.frames = MEMORY_FRAMES;
  results.memoryBeats = await page.evaluate((n) => window.bench.memory(n, "beat"), MEMORY_FRAMES);
  results.memoryBeats.frames = MEMORY_FRAMES;
  results.sizes = sizes();
} finally {
  await browser.close();
  await gateway.stop();
  await server.close();
}
// 6. What an app downloads: the packed package in a fresh app per bundler
// (tests/bundlers/), built in production mode.
if (bundles) {
  log("packing the package and building the bundler apps (tests/bundlers/)");
  results.bundles = await measureBundles(undefined, (line) => log(line));
}

const KiB = 1024;
const fmt = (x, d = 0) => x.toFixed(d);
const ns = (s) => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
const verdict = (value, budget, stretch, lowerIsBetter = true) => {
  const ok = lowerIsBetter ? value <= budget : value >= budget;
  const great = stretch !== undefined && (lowerIsBetter ? value <= stretch : value >= stretch);
  return great ? "meets budget and stretch" : ok ? "meets budget" : "**misses budget**";
};
const budgets = {
  "beat:text": [0.8, 0.6], "beat:bytes": [0.6, 0.4],
  "other:text": [0.5, 0.3], "other:bytes": [0.3, 0.15],
};
const lines = [];
const m = results.machine;
lines.push(`Measured ${m.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Chromium ${m.chromium}, ${m.runs} interleaved runs of ${m.frames.toLocaleString("en")} frames per variant${m.smoke ? " (SMOKE RUN: sizes too small to mean anything)" : ""}. Times are medians (min–max) in ns per call.`);
lines.push("");
lines.push("| case | wasm | JS baseline | ratio | budget (stretch) | |");
lines.push("|---|---:|---:|---:|---|---|");
for (const [key, r] of Object.entries(results.ingest)) {
  const b = budgets[key];
  const [kind, enc] = key.split(":");
  const label = { beat: "known-worker beat", other: "other topic", unknown: "unknown worker", mix: "realistic mix" }[kind];
  lines.push(`| ingest, ${label}, ${enc === "bytes" ? "Uint8Array" : "string"} | ${ns(r.wasm)} | ${ns(r.js)} | ${fmt(r.ratio, 2)}x | ${b ? `<= ${b[0]}x (${b[1]}x)` : "—"} | ${b ? verdict(r.ratio, b[0], b[1]) : ""} |`);
}
for (const [rows, r] of Object.entries(results.snapshot)) {
  const b = rows === "10" ? [2, 1] : undefined;
  lines.push(`| snapshot(), ${rows} rows | ${ns(r.wasm)} | ${ns(r.js)} | ${fmt(r.ratio, 2)}x | ${b ? `<= ${b[0]}x (${b[1]}x)` : "—"} | ${b ? verdict(r.ratio, b[0], b[1]) : ""} |`);
}
const pu = results.panel;
const msf = (x) => `${fmt(x.median, 3)} (${fmt(x.min, 3)}–${fmt(x.max, 3)})`;
lines.push(`| <worker-panel> update, 19 rows, heartbeat strips: ms per update (beat, render, layout) | ${msf(pu.strip)} ms | ${msf(pu.bare)} ms without strips | strips: ${fmt(pu.stripCost, 3)} ms | strips <= 2 ms | ${pu.stripCost <= 2 ? "meets budget" : "**misses budget**"} |`);
const f = results.flood;
lines.push(`| WebSocket flood, messages/s | ${fmt(f.registry.perSecond.median)} | ${fmt(f.noop.perSecond.median)} (no-op onmessage) | ${fmt(f.ratio * 100, 1)} % | >= 95 % (99 %) | ${verdict(f.ratio, 0.95, 0.99, false)} |`);
lines.push(`| flood, for scale: onmessage reading e.data only / JS baseline registry | ${fmt(f.read.perSecond.median)} / ${fmt(f.js.perSecond.median)} | | ${fmt((100 * f.read.perSecond.median) / f.noop.perSecond.median, 1)} % / ${fmt((100 * f.js.perSecond.median) / f.noop.perSecond.median, 1)} % | | |`);
lines.push(`| long tasks >= 50 ms during ${fmt(f.registry.seconds, 1)} s of flood | ${f.registry.longTasks} (longest ${fmt(f.registry.longestTaskMs)} ms) | ${f.noop.longTasks} | | 0 | ${f.registry.longTasks === 0 ? "meets budget" : "**misses budget**"} |`);
const s = results.sizes;
lines.push(`| wasm size | ${s.wasm.raw} B raw, **${fmt(s.wasm.gzip / KiB, 1)} KiB gzip**, ${fmt(s.wasm.brotli / KiB, 1)} KiB brotli | | | <= 40 KiB (24 KiB) | ${verdict(s.wasm.gzip, 40 * KiB, 24 * KiB)} |`);
lines.push(`| all the package's JS a page loads (glue, host.js, entry; the panel apart) | ${s.allJs.raw} B raw, **${fmt(s.allJs.gzip / KiB, 2)} KiB gzip** (each file gzipped on its own) | | | <= 8 KiB (6 KiB) | ${verdict(s.allJs.gzip, 8 * KiB, 6 * KiB)} |`);
lines.push(`| of which: JS glue (wasm-bindgen, minified) / host.js + index.js | ${fmt(s.glue.gzip / KiB, 2)} / ${fmt(s.hostAndEntry.gzip / KiB, 2)} KiB gzip | | | — | |`);
for (const [name, b] of Object.entries(results.bundles ?? {})) {
  lines.push(`| app bundle (registry and panel, production build), ${b.bundler} ${b.version} | JS ${b.js.raw} B raw, **${fmt(b.js.gzip / KiB, 1)} KiB gzip**; wasm ${fmt(b.wasm.gzip / KiB, 1)} KiB gzip | | | — | |`);
}
const mem = results.memory;
const heapDelta = mem.after.heap !== null ? mem.after.heap - mem.before.heap : null;
lines.push(`| ${mem.frames.toLocaleString("en")} unknown-worker frames | wasm memory ${mem.before.wasm} → ${mem.after.wasm} B; JS heap ${heapDelta === null ? "n/a" : `${heapDelta >= 0 ? "+" : ""}${fmt(heapDelta / KiB, 1)} KiB`} after GC | | | no growth; heap within 1 MiB | ${mem.before.wasm === mem.after.wasm && heapDelta !== null && Math.abs(heapDelta) <= 1024 * KiB ? "meets budget" : "**misses budget**"} |`);
const mb = results.memoryBeats;
lines.push(`| ${mb.frames.toLocaleString("en")} known-worker beats (historyLength 1000) | wasm memory ${mb.before.wasm} → ${mb.after.wasm} B | | | no growth | ${mb.before.wasm === mb.after.wasm ? "meets budget" : "**misses budget**"} |`);
if (results.compare) {
  const c = results.compare;
  const change = (x) => `${fmt(x.median, 2)}x (${fmt(x.min, 2)}–${fmt(x.max, 2)})`;
  lines.push("");
  lines.push(`Against ${c.label}, run in the same page and interleaved with this one. "Time now / before" is the median of each run's own quotient (below 1: faster now).`);
  lines.push("");
  lines.push("| case | ratio to the JS baseline now | before | time now / before, per run |");
  lines.push("|---|---:|---:|---:|");
  for (const [key, r] of Object.entries(c.ingest)) lines.push(`| ingest, ${key} | ${fmt(r.now, 2)}x | ${fmt(r.before, 2)}x | ${change(r.change)} |`);
  for (const [rows, r] of Object.entries(c.snapshot)) lines.push(`| snapshot(), ${rows} rows | ${fmt(r.now, 2)}x | ${fmt(r.before, 2)}x | ${change(r.change)} |`);
  lines.push(`| WebSocket flood, share of a no-op onmessage | ${fmt(c.flood.now * 100, 1)} % | ${fmt(c.flood.before * 100, 1)} % | ${change(c.flood.change)} |`);
}
const table = lines.join("\n");
results.table = table;
// A smoke run must not overwrite the committed results of a full run.
const out = smoke ? join(ROOT, "bench/out") : join(ROOT, "bench");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 2) + "\n");
writeFileSync(join(out, "results.md"), table + "\n");
log(`wrote ${out}/results.json and results.md`);
console.log(table);
