// The release build (wasm-pack --release, optimised by binaryen's wasm-opt)
// loads and works in Chromium: a broken optimiser cannot pass unnoticed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, ROOT } from "./support/procs.mjs";
import { serveStatic } from "./support/static.mjs";

let server, browser, page;

before(async () => {
  assert.ok(existsSync(join(ROOT, "pkg/worker_registry_bg.wasm")), "pkg/ is not built: run 'npm run build'");
  server = await serveStatic({ "/pkg": join(ROOT, "pkg") }, {
    "/": (req, res) => {
      res.setHeader("Content-Type", "text/html");
      res.end("<!doctype html><title>release</title>");
    },
  });
  browser = await launchBrowser();
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(server.url + "/");
  page.errors = errors;
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the release package initialises and keeps the contract", async () => {
  const result = await page.evaluate(async () => {
    const mod = await import("/pkg/index.js");
    await mod.default();
    const reg = new mod.WorkerRegistry();
    const beat = (w, extra) => JSON.stringify({ v: 1, id: "ab", topic: `system.${w}.health`, type: "health", ts: 1764190000.5, payload: { worker: w, ts: 1764190000.5, ...extra } });
    const recorded = [
      reg.ingest(beat("api", { pid: 7, realism: { llm_enabled: false } })),
      reg.ingest(new TextEncoder().encode(beat("bus", {}))),
      reg.ingest(beat("intruder", {})),
      reg.ingest('{"topic":"system.api.health","payload":{"ts":"abc"}}'),
    ];
    const rows = reg.snapshot();
    let error;
    try { new mod.WorkerRegistry({ okWindowSeconds: -1 }); } catch (e) { error = `${e.name}: ${e.message}`; }
    return {
      recorded,
      names: rows.map((r) => r.name),
      statuses: rows.map((r) => r.status),
      api: rows[0],
      frozen: Object.isFrozen(rows[0].extra) && Object.isFrozen(rows[0].extra.realism),
      stats: reg.stats(),
      defaults: [...mod.DEFAULT_KNOWN_WORKERS],
      knownWorkers: reg.knownWorkers,
      window: [mod.DEFAULT_OK_WINDOW_SECONDS, reg.okWindowSeconds],
      maxFrame: [mod.DEFAULT_MAX_FRAME_BYTES, reg.maxFrameBytes],
      connection: reg.connection(),
      error,
    };
  });
  assert.deepEqual(result.recorded, [true, true, false, false]);
  assert.deepEqual(result.defaults, result.knownWorkers, "DEFAULT_KNOWN_WORKERS matches the registry's default");
  assert.deepEqual(result.window, [90, 90]);
  assert.deepEqual(result.maxFrame, [65536, 65536]);
  assert.deepEqual(result.names, result.defaults);
  assert.deepEqual(result.statuses, ["ok", "ok", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown"]);
  assert.deepEqual(result.api.extra, { pid: 7, realism: { llm_enabled: false } });
  assert.equal(result.api.last_heartbeat_ts, 1764190000.5);
  assert.ok(result.frozen);
  assert.equal(result.stats.accepted, 2);
  assert.equal(result.stats.rejected.unknown_worker, 1);
  assert.equal(result.stats.rejected.bad_ts, 1);
  assert.equal(result.connection.state, "idle");
  assert.equal(result.error, "RangeError: WorkerRegistry: okWindowSeconds must be a finite number greater than 0 (got -1)");
  assert.deepEqual(page.errors, []);
});
