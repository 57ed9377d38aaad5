// <worker-panel> driven by a fake registry (the panel knows only the shape):
// every banner, the ages and countdowns, badges, chips, announcements,
// coalesced renders, and cleanup when the element leaves the page.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startGateway } from "../support/procs.mjs";
import { STATIC } from "./helpers.mjs";

// Installed in the page: a registry double whose every answer the test sets.
function installFake() {
  window.makeFake = (rows) => {
    const fake = {
      okWindowSeconds: 90,
      rows,
      conn: { state: "open", bus_connected: true, url: "ws://x/bus", attempts: 0, last_error: null, next_retry_ms: null },
      statsValue: { accepted: 1234, ignored: 56, superseded: 0, rejected: { unknown_worker: 2, bad_ts: 3, not_json: 0 } },
      listeners: new Set(),
      calls: { snapshot: 0, unsubscribe: 0 },
      snapshot() { fake.calls.snapshot += 1; return fake.rows.map((r) => ({ ...r })); },
      connection() { return { ...fake.conn }; },
      stats() { return fake.statsValue; },
      onChange(cb) {
        fake.listeners.add(cb);
        return () => { fake.calls.unsubscribe += 1; fake.listeners.delete(cb); };
      },
      fire(reason = "beat") { for (const cb of fake.listeners) cb(reason); },
    };
    return fake;
  };
  window.row = (name, status, seconds, extra = {}) => ({
    name, status,
    last_heartbeat_ts: status === "unknown" ? null : 1.7e9,
    seconds_since: status === "unknown" ? null : seconds,
    extra: status === "unknown" ? {} : extra,
  });
  window.frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  window.view = (panel) => {
    const root = panel.shadowRoot;
    const banner = root.querySelector(".banner");
    return {
      header: root.querySelector(".cadence").textContent,
      summary: [...root.querySelectorAll(".count")].filter((c) => !c.hidden).map((c) => c.textContent),
      banner: banner.hidden ? null : { label: banner.querySelector(".label").textContent,
        detail: banner.querySelector(".detail").textContent, tone: banner.dataset.tone },
      diag: root.querySelector(".diag").textContent,
      live: root.querySelector("[aria-live]").textContent,
      rows: [...root.querySelectorAll("tbody tr")].map((tr) => ({
        name: tr.querySelector("th").textContent,
        word: tr.querySelector(".word").textContent,
        ago: tr.querySelector(".ago").textContent,
        countdown: tr.querySelector(".countdown").hidden ? null : tr.querySelector(".countdown").textContent,
      })),
    };
  };
}

describe("<worker-panel> with a fake registry", () => {
  let browser;
  let gw;
  let page;

  before(async () => {
    browser = await launchBrowser();
    gw = await startGateway(STATIC);
    page = await browser.newPage();
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(e));
    // A document of the gateway's origin with only the panel module in it.
    await page.route(`${gw.http}/blank.html`, (route) =>
      route.fulfill({ contentType: "text/html", body: "<!doctype html><title>panel</title><body></body>" }));
    await page.goto(`${gw.http}/blank.html`);
    await page.addScriptTag({ url: `${gw.http}/worker-panel.js`, type: "module" });
    await page.waitForFunction(() => customElements.get("worker-panel") !== undefined);
    await page.evaluate(installFake);
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
  });

  test("formats ages, countdowns, the header and the diagnostics", async () => {
    const view = await page.evaluate(async () => {
      const fake = makeFake([
        row("api", "ok", 12.4), row("bus", "ok", 68), row("collector", "stale", 180.9),
        row("profiler", "stale", 7300), row("sniffer", "stale", 200000), row("updater", "unknown"),
      ]);
      const panel = document.createElement("worker-panel");
      panel.setAttribute("interval", "30");
      document.body.append(panel);
      panel.registry = fake;
      await frame();
      const v = view(panel);
      panel.remove();
      return v;
    });
    assert.equal(view.header, "Heartbeat every 30 s · ok within 90 s");
    assert.deepEqual(view.summary, ["2 ok", "3 stale", "1 unknown"]);
    assert.equal(view.banner, null);
    assert.equal(view.diag, "accepted 1,234 · ignored 56 · rejected 5");
    assert.deepEqual(view.rows, [
      { name: "api", word: "OK", ago: "12s ago", countdown: "stale in 1:18" },
      { name: "bus", word: "OK", ago: "1m ago", countdown: "stale in 0:22" },
      { name: "collector", word: "STALE", ago: "3m ago", countdown: null },
      { name: "profiler", word: "STALE", ago: "2h ago", countdown: null },
      { name: "sniffer", word: "STALE", ago: "2d ago", countdown: null },
      { name: "updater", word: "UNKNOWN", ago: "—", countdown: null },
    ]);
  });

  test("shows a banner for every connection state but open", async () => {
    const banners = await page.evaluate(async () => {
      const fake = makeFake([row("api", "ok", 1)]);
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      const seen = {};
      const show = async (name, conn) => {
        fake.conn = { ...fake.conn, ...conn };
        fake.fire("connection");
        await frame();
        seen[name] = view(panel).banner;
      };
      fake.conn = { ...fake.conn, state: "connecting", bus_connected: false };
      panel.registry = fake;
      await frame();
      seen.firstConnect = view(panel).banner;
      await show("open", { state: "open", bus_connected: true });
      await show("backoff", { state: "backoff", bus_connected: false, attempts: 2, last_error: "closed 1006", next_retry_ms: 2500 });
      await show("connecting", { state: "connecting", bus_connected: false, next_retry_ms: null });
      await show("closed", { state: "closed", bus_connected: false });
      await show("unauthorized", { state: "backoff", last_error: "unauthorized", next_retry_ms: 400 });
      await show("unauthorizedNats", { state: "connecting", last_error: "unauthorized (nats: authorization violation)", next_retry_ms: null });
      await show("idle", { state: "idle", last_error: null, attempts: 0 });
      await show("reopened", { state: "open", bus_connected: true });
      seen.live = view(panel).live;
      // The gateway lost the bus behind an open socket (a status frame).
      await show("upstreamDown", { state: "open", bus_connected: false, upstream: "down" });
      seen.upstreamLive = view(panel).live;
      // The once-a-second render keeps counting.
      const until = performance.now() + 4000;
      while (!view(panel).banner?.detail.startsWith("for 2 s") && performance.now() < until) await frame();
      seen.upstreamLater = view(panel).banner;
      // The registry knows how long the gateway's bus has been down, from
      // before this page opened: the banner says that instead.
      await show("upstreamKnown", { state: "open", bus_connected: false, upstream: "down", upstream_for_s: 125 });
      await show("upstreamUp", { state: "open", bus_connected: true, upstream: "up" });
      panel.remove();
      return seen;
    });
    assert.deepEqual(banners.firstConnect, { label: "CONNECTING", detail: "to the bus…", tone: "off" });
    assert.equal(banners.open, null);
    // Offline since the panel last saw the bus: "for 1 s" at the least.
    assert.deepEqual(banners.backoff, { label: "BUS OFFLINE", detail: "for 1 s · RECONNECTING in 3s", tone: "bad" });
    assert.deepEqual(banners.connecting, { label: "BUS OFFLINE", detail: "for 1 s · reconnecting…", tone: "bad" });
    assert.deepEqual(banners.closed, { label: "BUS OFFLINE", detail: "for 1 s · stopped", tone: "bad" });
    assert.deepEqual(banners.unauthorized, { label: "UNAUTHORIZED", detail: "RECONNECTING in 1s", tone: "bad" });
    assert.equal(banners.unauthorizedNats.label, "UNAUTHORIZED");
    assert.equal(banners.idle.label, "NOT CONNECTED");
    assert.equal(banners.reopened, null);
    assert.equal(banners.live, "Bus connection restored");
    assert.deepEqual(banners.upstreamDown, { label: "BUS OFFLINE", detail: "for 1 s · the gateway has lost its link to the bus", tone: "bad" });
    assert.equal(banners.upstreamLive, "Bus connection lost");
    assert.deepEqual(banners.upstreamLater, { label: "BUS OFFLINE", detail: "for 2 s · the gateway has lost its link to the bus", tone: "bad" });
    assert.deepEqual(banners.upstreamKnown, { label: "BUS OFFLINE", detail: "for 2 min 5 s · the gateway has lost its link to the bus", tone: "bad" });
    assert.equal(banners.upstreamUp, null);
  });

  test("renders extras as chips and realism as a badge, untrusted text as text", async () => {
    const result = await page.evaluate(async () => {
      const long = "x".repeat(300);
      const extra = JSON.parse(JSON.stringify({
        pid: 42, uptime_s: 12.345678, version: "1.2.3", note: null,
        list: [1, "two", { three: 3 }],
        realism: { llm_enabled: true, llm_backend: "ollama", llm_model: "llama3.1:8b", llm_breaker_state: "half_open" },
        long,
      }));
      // A "__proto__" key as JSON.parse makes it: an own property.
      const proto = JSON.parse('{"__proto__": {"polluted": true}, "<b>bold</b>": "<i>x</i>"}');
      const fake = makeFake([
        row("agent", "ok", 1, extra),
        row("mutator", "ok", 1, { realism: { llm_enabled: false } }),
        row("bus", "ok", 1, { realism: { llm_enabled: true, llm_backend: "vllm", llm_breaker_state: "open" } }),
        row("api", "ok", 1, { realism: { llm_enabled: true, llm_breaker_state: "closed" } }),
        row("sniffer", "ok", 1, proto),
        row("prober", "ok", 1, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))),
      ]);
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      panel.registry = fake;
      await frame();
      const root = panel.shadowRoot;
      const chips = (name) => [...root.querySelectorAll(`tr[data-worker="${name}"] .chip`)].map((c) => ({
        text: c.querySelector(".full") ? c.querySelector(".key").textContent
          + (c.hasAttribute("data-truncated") ? c.querySelector(".short").textContent : c.querySelector(".full").textContent)
          : c.textContent,
        title: c.getAttribute("title"),
        focusable: c.tabIndex === 0,
      }));
      const badge = (name) => {
        const b = root.querySelector(`tr[data-worker="${name}"] .badge`);
        return b.hidden ? null : { text: b.textContent, tone: b.dataset.tone };
      };
      const out = {
        agent: chips("agent"), sniffer: chips("sniffer"), prober: chips("prober").slice(-2),
        badges: { agent: badge("agent"), mutator: badge("mutator"), bus: badge("bus"), api: badge("api"), prober: badge("prober") },
        elements: root.querySelectorAll("b, i, img, script").length,
        polluted: ({}).polluted,
      };
      panel.remove();
      return out;
    });
    const agent = Object.fromEntries(result.agent.map((c) => [c.text.split(":")[0], c]));
    assert.equal(agent.pid.text, "pid: 42");
    assert.equal(agent.pid.focusable, false);
    assert.equal(agent.uptime_s.text, "uptime_s: 12 s");
    assert.equal(agent.uptime_s.title, "uptime_s: 12.345678");
    assert.equal(agent.note.text, "note: null");
    assert.equal(agent.list.text, "list: [1, two, {three=3}]");
    assert.equal(agent.realism.text, "realism: llm_enabled=true, llm_backend=ollama, llm_model…");
    assert.equal(agent.realism.title,
      "realism: llm_enabled=true, llm_backend=ollama, llm_model=llama3.1:8b, llm_breaker_state=half_open");
    assert.equal(agent.realism.focusable, true);
    assert.equal(agent.long.text.length, "long: ".length + 48);
    assert.ok(agent.long.text.endsWith("x…"));
    assert.equal(result.badges.agent.text, "ollamahalf-open");
    assert.equal(result.badges.agent.tone, "warn");
    assert.deepEqual(result.badges.mutator, { text: "LLM OFF", tone: "off" });
    assert.deepEqual(result.badges.bus, { text: "vllmopen", tone: "bad" });
    assert.deepEqual(result.badges.api, { text: "LLM ONclosed", tone: "good" });
    assert.equal(result.badges.prober, null);
    assert.deepEqual(result.sniffer.map((c) => c.text), ["__proto__: polluted=true", "<b>bold</b>: <i>x</i>"]);
    assert.deepEqual(result.prober.map((c) => c.text), ["k15: 15", "+24 more"]);
    assert.equal(result.elements, 0);
    assert.equal(result.polluted, undefined);
  });

  test("announces status changes politely, and not the first fill", async () => {
    const live = await page.evaluate(async () => {
      const fake = makeFake([row("forwarder", "unknown"), row("api", "unknown")]);
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      panel.registry = fake;
      await frame();
      const region = panel.shadowRoot.querySelector("[aria-live]");
      const seen = [region.getAttribute("aria-live")];
      fake.rows = [row("forwarder", "ok", 0), row("api", "ok", 0)]; // the retained replay
      fake.fire();
      await frame();
      seen.push(region.textContent);
      fake.rows = [row("forwarder", "stale", 91), row("api", "ok", 0)];
      fake.fire("status");
      await frame();
      seen.push(region.textContent);
      // Rows coming back right after a (re)connection are the replay, not news.
      fake.rows = [row("forwarder", "ok", 0), row("api", "ok", 0)];
      fake.fire();
      await frame();
      seen.push(region.textContent);
      fake.rows = [row("forwarder", "stale", 91), row("api", "ok", 0)];
      fake.fire("status");
      await frame();
      await new Promise((r) => setTimeout(r, 3100)); // past the quiet start
      fake.rows = [row("forwarder", "ok", 0), row("api", "stale", 95)];
      fake.fire();
      await frame();
      seen.push(region.textContent);
      // While the bus is away, rows going stale are the banner's news.
      fake.conn = { ...fake.conn, state: "backoff", bus_connected: false, next_retry_ms: 1000 };
      fake.rows = [row("forwarder", "stale", 91), row("api", "stale", 96)];
      fake.fire("connection");
      await frame();
      seen.push(region.textContent);
      panel.remove();
      return seen;
    });
    assert.deepEqual(live, [
      "polite", "", "forwarder is now stale", "forwarder is now stale",
      "forwarder is ok again. api is now stale", "Bus connection lost",
    ]);
  });

  test("coalesces bursts into one render per frame and cleans up when removed", async () => {
    const result = await page.evaluate(async () => {
      const fake = makeFake([row("api", "ok", 1)]);
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      panel.registry = fake;
      await frame();
      const before = fake.calls.snapshot;
      for (let i = 0; i < 10000; i++) fake.fire("beat");
      await frame();
      const burst = fake.calls.snapshot - before;
      const listenersWhileShown = fake.listeners.size;
      panel.remove();
      const afterRemove = fake.calls.snapshot;
      await new Promise((r) => setTimeout(r, 1300)); // past a tick of the once-a-second clock
      const out = {
        burst, listenersWhileShown,
        listenersAfter: fake.listeners.size,
        unsubscribed: fake.calls.unsubscribe,
        rendersAfterRemove: fake.calls.snapshot - afterRemove,
      };
      // Put back: subscribes again; a new registry replaces the old one.
      document.body.append(panel);
      out.resubscribed = fake.listeners.size;
      const other = makeFake([row("bus", "ok", 1)]);
      panel.registry = other;
      out.oldListeners = fake.listeners.size;
      out.newListeners = other.listeners.size;
      out.rows = [...panel.shadowRoot.querySelectorAll("tbody tr")].map((tr) => tr.dataset.worker);
      panel.remove();
      return out;
    });
    assert.equal(result.burst, 1);
    assert.equal(result.listenersWhileShown, 1);
    assert.equal(result.listenersAfter, 0);
    assert.equal(result.unsubscribed, 1);
    assert.equal(result.rendersAfterRemove, 0);
    assert.equal(result.resubscribed, 1);
    assert.deepEqual([result.oldListeners, result.newListeners], [0, 1]);
    assert.deepEqual(result.rows, ["bus"]);
    assert.deepEqual(page.errors, []);
  });

  test("says why there is no table: loading, never started, released; the bus's own link down", async () => {
    const seen = await page.evaluate(async () => {
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      const root = panel.shadowRoot;
      const state = () => ({
        notice: root.querySelector(".empty").hidden ? null : root.querySelector(".empty").textContent,
        table: !root.querySelector("table").hidden,
        busy: root.querySelector(".panel").getAttribute("aria-busy"),
        banner: root.querySelector(".banner").hidden ? null : root.querySelector(".banner").textContent,
      });
      const out = { loading: state() };
      const idle = makeFake([row("api", "unknown"), row("bus", "unknown")]);
      idle.conn = { ...idle.conn, state: "idle", bus_connected: false, url: null };
      panel.registry = idle;
      await frame();
      out.idle = state();
      // A beat recorded by hand: the rows are worth a table, with the banner.
      idle.rows = [row("api", "ok", 1), row("bus", "unknown")];
      idle.fire();
      await frame();
      out.idleWithRows = state();
      const up = makeFake([row("api", "ok", 1)]);
      panel.registry = up;
      await frame();
      up.conn = { ...up.conn, state: "open", bus_connected: false, upstream: "down" };
      up.fire("connection");
      await frame();
      out.upstreamDown = state();
      const freed = makeFake([row("api", "ok", 1)]);
      panel.registry = freed;
      await frame();
      freed.snapshot = () => { throw new Error("null pointer passed to rust"); };
      freed.fire();
      await frame();
      out.freed = state();
      panel.remove();
      return out;
    });
    assert.deepEqual(seen.loading, { notice: "Loading workers…", table: false, busy: "true", banner: null });
    assert.deepEqual(seen.idle, {
      notice: "Not connected: this registry was not started with a bus URL (registry.start(url)), so no heartbeats can arrive.",
      table: false, busy: null, banner: null,
    });
    assert.equal(seen.idleWithRows.table, true);
    assert.match(seen.idleWithRows.banner, /^NOT CONNECTED/);
    assert.deepEqual(seen.upstreamDown, {
      notice: null, table: true, busy: null, banner: "BUS OFFLINEfor 1 s · the gateway has lost its link to the bus",
    });
    assert.equal(seen.freed.table, false);
    assert.match(seen.freed.notice, /^This registry has been released \(free\(\) was called\)/);
  });

  test("extras: durations, separators, raw values in the tooltip, formatExtra overrides", async () => {
    const chips = await page.evaluate(async () => {
      const extra = { uptime_s: 273600, boot_s: 4.25, lag_s: 3725, rx_bytes: 1234567.891, pid: 4242, note: "12345" };
      const fake = makeFake([row("api", "ok", 1, extra)]);
      const panel = document.createElement("worker-panel");
      document.body.append(panel);
      panel.registry = fake;
      await frame();
      const read = () => Object.fromEntries([...panel.shadowRoot.querySelectorAll(".chip")].map((c) =>
        [c.querySelector(".key").textContent.slice(0, -2), [c.querySelector(".full").textContent, c.getAttribute("title")]]));
      const before = read();
      panel.formatExtra = (key, value) => (key === "pid" ? `#${value}` : key === "lag_s" ? 42 : undefined);
      await frame();
      const after = read();
      panel.remove();
      return { before, after };
    });
    assert.deepEqual(chips.before, {
      uptime_s: ["3 d 4 h", "uptime_s: 273600"],
      boot_s: ["4.3 s", "boot_s: 4.25"],
      lag_s: ["1 h 2 min", "lag_s: 3725"],
      rx_bytes: ["1,234,567.89", "rx_bytes: 1234567.891"],
      pid: ["4242", null],
      note: ["12345", null],
    });
    // A string wins; anything else falls back to the panel's own reading.
    assert.deepEqual(chips.after.pid, ["#4242", "pid: 4242"]);
    assert.deepEqual(chips.after.lag_s, ["1 h 2 min", "lag_s: 3725"]);
  });

  test("takes a registry set before the element is defined", async () => {
    const rows = await page.evaluate(async () => {
      const el = document.createElement("worker-panel-late");
      const fake = makeFake([row("api", "ok", 1), row("bus", "unknown")]);
      el.registry = fake; // an own property, before upgrade
      el.interval = 2;
      document.body.append(el);
      const { WorkerPanel } = await import("/worker-panel.js");
      customElements.define("worker-panel-late", class extends WorkerPanel {});
      await frame();
      const out = {
        rows: [...el.shadowRoot.querySelectorAll("tbody tr")].map((tr) => tr.dataset.worker),
        header: el.shadowRoot.querySelector(".cadence").textContent,
        interval: el.interval,
      };
      el.remove();
      return out;
    });
    assert.deepEqual(rows, { rows: ["api", "bus"], header: "Heartbeat every 2 s · ok within 90 s", interval: 2 });
  });
});
