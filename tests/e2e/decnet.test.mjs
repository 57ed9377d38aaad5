// The DECNET bridge through a real Chromium page: the bus daemon double
// (tests/decnet_bus.py) and workers publishing on it, the gateway bridging
// it (--upstream decnet:PATH), and a WorkerRegistry in the page. Rows turn
// ok, hyphenated names work with a custom allowlist, a rogue worker and a
// "ts": "abc" beat are refused and counted, a daemon restart shows
// connection().upstream "down" (and the panel's BUS OFFLINE banner) then
// "up" with one upstream SUB per pattern, and the page may not read
// attacker.>.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decnetClient, launchBrowser, startDecnetBus, startGateway, waitFor } from "../support/procs.mjs";
import { STATIC } from "./helpers.mjs";

const KNOWN = ["api", "reuse-correlator", "campaign-clusterer", "collector"];

describe("the DECNET bridge in Chromium", () => {
  let browser;
  let bus;
  let gw;
  let page;
  let workers;
  let pageDir;

  const beatAll = async (extra = {}) => {
    const ts = Date.now() / 1000;
    for (const name of KNOWN) await workers[name].publish(`system.${name}.health`, { worker: name, ts, ...extra });
  };
  const rows = () => page.evaluate(() => window.registry.snapshot());
  const stats = () => page.evaluate(() => window.registry.stats());
  const connection = () => page.evaluate(() => window.registry.connection());
  const banner = () => page.evaluate(() => {
    const b = document.querySelector("worker-panel").shadowRoot.querySelector(".banner");
    return b.hidden ? null : b.querySelector(".label").textContent;
  });

  before(async () => {
    browser = await launchBrowser();
    bus = await startDecnetBus({ healthInterval: 1 });
    // An empty page served by the gateway itself: Chromium lets a page
    // reach a loopback socket only from a loopback document.
    pageDir = mkdtempSync(join(tmpdir(), "wr-decnet-page-"));
    writeFileSync(join(pageDir, "index.html"), "<!doctype html><title>decnet</title><body></body>");
    gw = await startGateway(["--upstream", bus.upstream, ...STATIC, "--static", `/decnet=${pageDir}`, "--admin"]);
    await waitFor(() => bus.count("SUB worker-gateway system.*.health") === 1, 10000, "the gateway's SUB");
    workers = {};
    for (const name of [...KNOWN, "rogue"]) workers[name] = await decnetClient(bus.socket, name);

    page = await browser.newPage();
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(e));
    await page.goto(`${gw.http}/decnet/`);
    await page.evaluate(async ([url, known]) => {
      const { default: init, WorkerRegistry } = await import("/pkg/index.js");
      await init();
      window.registry = new WorkerRegistry({ knownWorkers: known, okWindowSeconds: 30 });
      window.registry.start(url);
      await import("/worker-panel.js");
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      panel.registry = window.registry;
    }, [gw.url, KNOWN]);
    await waitFor(async () => (await connection()).state === "open", 10000, "the page's connection")
      .catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await connection())} ${page.errors}`); });
  });

  after(async () => {
    for (const w of Object.values(workers ?? {})) w.close();
    await browser?.close();
    await gw?.stop();
    await bus?.cleanup();
    if (pageDir) rmSync(pageDir, { recursive: true, force: true });
  });

  test("rows turn ok, hyphenated names included", async () => {
    await beatAll();
    await waitFor(async () => (await rows()).every((r) => r.status === "ok"), 10000, "every row ok");
    assert.deepEqual((await rows()).map((r) => r.name), KNOWN);
    assert.equal((await connection()).upstream, "up");
  });

  test("a rogue worker is refused and counted", async () => {
    const before = (await stats()).rejected.unknown_worker ?? 0;
    await workers.rogue.publish("system.rogue.health", { worker: "rogue", ts: Date.now() / 1000 });
    await waitFor(async () => ((await stats()).rejected.unknown_worker ?? 0) === before + 1, 5000, "unknown_worker + 1");
    assert.ok(!(await rows()).some((r) => r.name === "rogue"));
  });

  test('a beat with "ts": "abc" is counted bad_ts and nothing else changes', async () => {
    const rowsBefore = await rows();
    const statsBefore = await stats();
    await workers.api.publish("system.api.health", { worker: "api", ts: "abc" });
    await waitFor(async () => ((await stats()).rejected.bad_ts ?? 0) === (statsBefore.rejected.bad_ts ?? 0) + 1, 5000, "bad_ts + 1");
    const after = await stats();
    assert.equal(after.accepted, statsBefore.accepted);
    assert.equal(after.rejected.unknown_worker ?? 0, statsBefore.rejected.unknown_worker ?? 0);
    const api = (await rows()).find((r) => r.name === "api");
    const apiBefore = rowsBefore.find((r) => r.name === "api");
    assert.equal(api.last_heartbeat_ts, apiBefore.last_heartbeat_ts);
    assert.deepEqual(api.extra, apiBefore.extra);
  });

  test("the page may not read attacker.>", async () => {
    const reply = await page.evaluate((url) => new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => ws.send(JSON.stringify({ op: "sub", sid: 1, pattern: "attacker.>" }));
      ws.onmessage = (m) => {
        const f = JSON.parse(m.data);
        if (f.op === "error") { ws.close(); resolve(f.message); }
      };
      ws.onerror = () => reject(new Error("socket error"));
      setTimeout(() => reject(new Error("no error frame")), 5000);
    }), gw.url);
    assert.match(reply, /attacker\.>/);
    assert.match(reply, /--allow-subscribe/);
    assert.equal(bus.count("SUB worker-gateway attacker.>"), 0, "nothing was subscribed upstream");
  });

  test("a daemon restart shows the bus down, then recovers with one SUB per pattern", async () => {
    await bus.stop();
    await waitFor(async () => {
      const c = await connection();
      return c.upstream === "down" && c.bus_connected === false;
    }, 10000, 'connection().upstream "down" and bus_connected false');
    const during = await connection();
    assert.equal(during.state, "open", "the page's own socket stays open");
    await waitFor(async () => (await banner()) === "BUS OFFLINE", 5000, "the panel's BUS OFFLINE banner");

    for (const w of Object.values(workers)) w.close();
    await bus.start();
    await waitFor(async () => {
      const c = await connection();
      return c.upstream === "up" && c.bus_connected === true;
    }, 10000, 'connection().upstream "up" again');
    await waitFor(async () => (await banner()) === null, 5000, "the banner gone");
    await waitFor(() => bus.count("SUB worker-gateway system.*.health") === 2, 10000, "the gateway's second SUB");
    const subs = bus.lines.filter((l) => l.startsWith("SUB worker-gateway "));
    assert.deepEqual(subs, ["SUB worker-gateway system.*.health", "SUB worker-gateway system.*.health"],
      "one SUB per pattern per daemon start");

    workers = {};
    for (const name of KNOWN) workers[name] = await decnetClient(bus.socket, name);
    const since = Date.now() / 1000;
    await beatAll();
    await waitFor(async () => (await rows()).every((r) => r.status === "ok" && r.last_heartbeat_ts >= since - 1),
      10000, "fresh rows after the restart");
    assert.deepEqual(page.errors, []);
  });
});
