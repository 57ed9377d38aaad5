// The panel beyond the rows, against the real gateway and its simulated
// fleet: heartbeat strips that match history(), a stopped worker turning
// LATE then STALE, actions (events, pending state, keyboard), the problem
// sort and hidden unknown rows, hostile extras as text, axe-core in both
// themes, and screenshots for review in tests/e2e/screenshots/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, launchBrowser, startGateway } from "../support/procs.mjs";
import { PUBLISHER_TOKEN, STATIC, openDemo, publish } from "./helpers.mjs";
import { decodePng, distinctColours } from "./png.mjs";

const INTERVAL = 0.5;
const WINDOW = 3 * INTERVAL;
const QUERY = `interval=${INTERVAL}&window=${WINDOW}`;
const SHOTS = join(ROOT, "tests/e2e/screenshots");
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const row = (name) => `document.querySelector("worker-panel").shadowRoot.querySelector('tr[data-worker="${name}"]')`;

/** Waits until the panel's row of `name` satisfies `predicate(tr)`. */
function waitRow(page, name, predicate, timeout = 10000) {
  return page.waitForFunction(
    ([sel, body]) => new Function("tr", `return (${body})(tr)`)(eval(sel)),
    [row(name), predicate.toString()],
    { polling: 25, timeout },
  );
}

/** Waits until `name` has a cadence (3 beats or more) and `beats` beats. */
function waitBeats(page, name, beats = 4) {
  return page.waitForFunction(([n, k]) => window.registry.history(n).beats.length >= k, [name, beats], { timeout: 10000 });
}

async function post(gw, worker, action) {
  const res = await fetch(`${gw.http}/admin/sim/${worker}/${action}`, { method: "POST" });
  assert.equal(res.status, 200, await res.text());
}

describe("the panel's history, lateness and actions", () => {
  let browser;
  let gw;

  before(async () => {
    browser = await launchBrowser();
    gw = await startGateway([
      "--simulate", "--interval", String(INTERVAL), "--silent-after", "1000000",
      "--publisher-token", PUBLISHER_TOKEN, "--admin", ...STATIC,
    ]);
  });

  after(async () => {
    await gw?.stop();
    await browser?.close();
  });

  test("each strip's ticks match history(): one per beat, newest at the right, a tooltip each", async () => {
    const page = await openDemo(browser, gw, QUERY, { viewport: { width: 1280, height: 900 } });
    await page.waitForFunction(() => window.registry.history("api").beats.length >= 6, null, { timeout: 10000 });
    const result = await page.evaluate(async () => {
      const panel = document.querySelector("worker-panel");
      // Render and read in one task, so no beat lands in between.
      panel.refresh();
      const out = {};
      for (const name of window.registry.knownWorkers) {
        const h = window.registry.history(name);
        const tr = panel.shadowRoot.querySelector(`tr[data-worker="${name}"]`);
        const ticks = [...tr.querySelectorAll(".tick")];
        const strip = tr.querySelector(".strip");
        const box = strip.getBoundingClientRect();
        out[name] = {
          beats: h.beats,
          cadence: h.cadence_s,
          ticks: ticks.length,
          titled: ticks.every((t) => /^Heartbeat at \d\d:\d\d:\d\d$/.test(t.getAttribute("title"))),
          // Distance of each tick's right edge from the strip's right edge, in px.
          fromRight: ticks.map((t) => box.right - t.getBoundingClientRect().right),
          width: box.width,
          label: strip.getAttribute("aria-label"),
        };
      }
      return out;
    });
    for (const [name, r] of Object.entries(result)) {
      assert.equal(r.ticks, Math.min(r.beats.length, 30), `${name}: ${r.ticks} ticks for ${r.beats.length} beats`);
      assert.ok(r.titled, `${name}: a tick without its time`);
      if (r.beats.length === 0) {
        assert.equal(r.label, "No heartbeats yet");
        continue;
      }
      // Each tick sits at its beat's age on an axis of 30 cadences ending at now.
      const unit = Number((r.cadence ?? INTERVAL).toPrecision(2)); // the panel's scale: 2 significant digits
      r.fromRight.forEach((px, i) => {
        const expected = (r.beats[i] / unit / 30) * r.width;
        if (expected < r.width - 4) {
          assert.ok(Math.abs(px - expected) < 2.5, `${name} tick ${i}: ${px} px from now, expected ${expected}`);
        }
      });
      assert.match(r.label, /^\d+ recent heartbeats?(, about every .+)?$/);
    }
    assert.equal(result.updater.beats.length, 0);
    assert.ok(result.api.cadence > 0.4 && result.api.cadence < 0.6, `api cadence ${result.api.cadence}`);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test("Stop from the keyboard: pending, then LATE (announced once), then STALE; Start brings it back", async () => {
    const page = await openDemo(browser, gw, QUERY, { viewport: { width: 1280, height: 900 } });
    await waitRow(page, "collector", (tr) => tr.dataset.status === "ok" && !!tr.querySelector('button[data-action="stop"]'));
    await waitBeats(page, "collector");
    await page.evaluate(() => {
      window.__events = [];
      window.__changes = [];
      document.addEventListener("worker-action", (e) => window.__events.push({ ...e.detail, composed: e.composed }));
      window.registry.onChange((reason) => window.__changes.push(reason));
    });
    // Tab to collector's Stop button, as a keyboard user would.
    let focused = null;
    for (let i = 0; i < 60 && focused !== "Stop collector"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.querySelector("worker-panel").shadowRoot.activeElement?.getAttribute("aria-label") ?? null);
    }
    assert.equal(focused, "Stop collector", "the Stop button is not reachable with Tab");
    const stoppedAt = Date.now();
    await page.keyboard.press("Enter");
    try {
      await stopAndWatch(page, stoppedAt);
      // Start is offered on the stale row; clicking it brings the worker back.
      await page.evaluate((sel) => eval(sel).querySelector('button[data-action="start"]').click(), row("collector"));
      await waitRow(page, "collector", (tr) => tr.dataset.status === "ok" && !tr.querySelector('button[data-action="start"]'), 5000);
    } finally {
      await post(gw, "collector", "start"); // whatever happened above
    }
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  async function stopAndWatch(page, stoppedAt) {
    const pending = await page.evaluate((sel) => {
      const b = eval(sel).querySelector('button[data-action="stop"]');
      return { busy: b.getAttribute("aria-busy"), text: b.textContent, focused: document.querySelector("worker-panel").shadowRoot.activeElement === b };
    }, row("collector"));
    assert.deepEqual(pending, { busy: "true", text: "Stop…", focused: true });
    assert.deepEqual(await page.evaluate(() => window.__events), [{ action: "stop", worker: "collector", composed: true }]);

    // Silent for more than 2 cadences: LATE, with the expected cadence; status still ok.
    await waitRow(page, "collector", (tr) => tr.hasAttribute("data-late"), 5000);
    const lateAt = Date.now();
    const late = await page.evaluate((sel) => {
      const tr = eval(sel);
      return {
        status: tr.dataset.status,
        mark: tr.querySelector(".late-mark").hidden ? null : tr.querySelector(".late-mark").textContent,
        note: tr.querySelector(".countdown").textContent,
        pending: tr.querySelector('button[data-action="stop"]')?.getAttribute("aria-busy") ?? null,
        history: window.registry.history("collector"),
        live: document.querySelector("worker-panel").shadowRoot.querySelector("[aria-live]").textContent,
        summary: [...document.querySelector("worker-panel").shadowRoot.querySelectorAll(".count")].filter((c) => !c.hidden).map((c) => c.textContent),
      };
    }, row("collector"));
    assert.equal(late.status, "ok");
    assert.equal(late.mark, "LATE");
    // The cadence of the beats this page saw (a replayed beat and a live one
    // may come close together on a busy machine), and a silence past twice it.
    const [, cadence, silent] = /^every ~(0\.\d+) s, silent (\d+(?:\.\d)?) s$/.exec(late.note) ?? [];
    assert.ok(cadence !== undefined, late.note);
    assert.ok(Math.abs(cadence - late.history.cadence_s) < 0.051, `${late.note} for ${late.history.cadence_s}`);
    assert.ok(silent >= 2 * cadence - 0.05, late.note);
    assert.equal(late.history.late, true);
    assert.equal(late.pending, null, "the row changed: the button is no longer pending");
    assert.match(late.live, /collector is late/);
    assert.ok(late.summary.includes("1 late"), late.summary.join());

    await waitRow(page, "collector", (tr) => tr.dataset.status === "stale", 5000);
    const staleAt = Date.now();
    const stale = await page.evaluate((sel) => ({
      late: eval(sel).hasAttribute("data-late"),
      changes: window.__changes.filter((c) => c !== "beat"),
      live: document.querySelector("worker-panel").shadowRoot.querySelector("[aria-live]").textContent,
    }), row("collector"));
    assert.equal(stale.late, false, "a stale row is not late");
    assert.deepEqual(stale.changes.filter((c) => c === "late").length, 1, `changes: ${stale.changes}`);
    assert.ok(stale.changes.indexOf("late") < stale.changes.lastIndexOf("status"), `changes: ${stale.changes}`);
    assert.match(stale.live, /collector is now stale/);
    assert.ok(lateAt - stoppedAt < staleAt - stoppedAt);
    const start = await page.evaluate((sel) => eval(sel).querySelector('button[data-action="start"]')?.textContent, row("collector"));
    assert.equal(start, "Start", "Start is offered on the stale row");
  }

  test("actions: events, pending until settle(), when(), bulk actions, none when unset", async () => {
    const page = await openDemo(browser, gw, QUERY);
    await waitRow(page, "api", (tr) => tr.dataset.status === "ok");
    const result = await page.evaluate(async () => {
      const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const panel = document.querySelector("worker-panel");
      const root = panel.shadowRoot;
      const events = [];
      panel.addEventListener("worker-action", (e) => {
        e.stopImmediatePropagation(); // not the demo's handler: this test answers
        events.push({ ...e.detail, bubbles: e.bubbles, composed: e.composed, target: e.target === panel });
      }, { capture: true });
      panel.actions = [
        { id: "restart", label: "Restart" },
        { id: "only-unknown", label: "Wake", when: (row) => row.status === "unknown" && row.late === false },
      ];
      panel.bulkActions = [{ id: "restart-all", label: "Restart all" }];
      await frame();
      // updater never beats: its row cannot change (which also answers a
      // pending action) while the test waits.
      const api = root.querySelector('tr[data-worker="updater"]');
      const button = api.querySelector('button[data-action="restart"]');
      const out = {
        perRow: [...root.querySelectorAll("tbody tr")].map((tr) =>
          [tr.dataset.worker, [...tr.querySelectorAll("button.action")].map((b) => b.textContent)]),
        names: [button.getAttribute("aria-label"), button.type],
      };
      button.click();
      button.click(); // ignored while pending
      await frame();
      out.pending = [button.getAttribute("aria-busy"), button.textContent, events.length];
      panel.settle("updater", "restart", { ok: false, message: "<b>refused</b> by the host" });
      out.settled = [button.getAttribute("aria-busy"), button.textContent,
        api.querySelector(".action-msg").textContent, api.querySelector(".action-msg").hidden,
        root.querySelector("[aria-live]").textContent, root.querySelectorAll("b").length];
      const bulk = root.querySelector('header button[data-action="restart-all"]');
      bulk.click();
      out.bulkPending = bulk.getAttribute("aria-busy");
      panel.settle(null, "restart-all", { ok: true, message: "all restarted" });
      out.bulkSettled = [bulk.getAttribute("aria-busy"), root.querySelector("[aria-live]").textContent];
      out.events = events;
      panel.actions = [];
      panel.bulkActions = [];
      await frame();
      out.after = [root.querySelectorAll("button.action:not(.toggle)").length,
        root.querySelector("thead th.actions").hidden, root.querySelector('tr[data-worker="api"] td.actions').hidden];
      return out;
    });
    const perRow = Object.fromEntries(result.perRow);
    assert.deepEqual(perRow.api, ["Restart"]);
    assert.deepEqual(perRow.updater, ["Restart", "Wake"]);
    assert.deepEqual(result.names, ["Restart updater", "button"]);
    assert.deepEqual(result.pending, ["true", "Restart…", 1]);
    assert.deepEqual(result.settled, [null, "Restart", "<b>refused</b> by the host", false,
      "Restart updater failed: <b>refused</b> by the host", 0]);
    assert.equal(result.bulkPending, "true");
    assert.deepEqual(result.bulkSettled, [null, "Restart all: all restarted"]);
    assert.deepEqual(result.events, [
      { action: "restart", worker: "updater", bubbles: true, composed: true, target: true },
      { action: "restart-all", worker: null, bubbles: true, composed: true, target: true },
    ]);
    assert.deepEqual(result.after, [0, true, true]);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test('sort="problems" puts stale, late and unknown first; hide-unknown hides them behind a toggle', async () => {
    await post(gw, "sniffer", "stop");
    const page = await openDemo(browser, gw, QUERY);
    try {
      await waitRow(page, "sniffer", (tr) => tr.dataset.status === "stale");
      const result = await page.evaluate(async () => {
        const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const panel = document.querySelector("worker-panel");
        const root = panel.shadowRoot;
        const order = () => [...root.querySelectorAll("tbody tr")].filter((tr) => !tr.hidden).map((tr) => tr.dataset.worker);
        const out = { before: order() };
        panel.setAttribute("sort", "problems");
        await frame();
        out.problems = order();
        out.sortProp = panel.sort;
        panel.sort = "allowlist";
        out.sortAttr = panel.getAttribute("sort");
        panel.hideUnknown = true;
        await frame();
        out.hideAttr = panel.getAttribute("hide-unknown");
        out.hidden = order();
        const toggle = root.querySelector("button.toggle");
        out.toggle = [toggle.hidden, toggle.textContent, toggle.getAttribute("aria-pressed")];
        toggle.click();
        await frame();
        out.shown = order();
        out.toggleAfter = [toggle.textContent, toggle.getAttribute("aria-pressed")];
        panel.removeAttribute("hide-unknown");
        await frame();
        out.toggleGone = toggle.hidden;
        return out;
      });
      const workers = ["api", "bus", "collector", "profiler", "sniffer", "prober", "mutator", "agent", "forwarder", "updater"];
      assert.deepEqual(result.before, workers);
      assert.equal(result.problems[0], "sniffer");
      // prober may be late at that moment: then it comes right after.
      const rest = result.problems.filter((n) => n !== "prober");
      assert.deepEqual(rest, ["sniffer", "updater", "api", "bus", "collector", "profiler", "mutator", "agent", "forwarder"]);
      assert.equal(result.sortProp, "problems");
      assert.equal(result.sortAttr, null);
      assert.equal(result.hideAttr, "");
      assert.deepEqual(result.hidden, workers.filter((n) => n !== "updater"));
      assert.deepEqual(result.toggle, [false, "show 1 never seen", "false"]);
      assert.deepEqual(result.shown, workers);
      assert.deepEqual(result.toggleAfter, ["hide 1 never seen", "true"]);
      assert.equal(result.toggleGone, true);
      assert.deepEqual(page.errors, []);
    } finally {
      await post(gw, "sniffer", "start");
      await page.close();
    }
  });

  test("hostile extras render as text: markup, __proto__, an 8 KB string; durations read well", async () => {
    const page = await openDemo(browser, gw, QUERY);
    await page.waitForFunction(() => window.registry.connection().state === "open");
    const big = "<i>x</i>".repeat(1024); // 8 KB, past what the gateway lets a publisher send: fed by hand
    await post(gw, "updater", "stop");
    // Written by hand, so "__proto__" is a key of the frame like any other.
    const frame = `{"v":1,"id":"e2e","topic":"system.updater.health","type":"health","ts":1,"payload":{"worker":"updater",` +
      `"__proto__":{"polluted":"<img src=x onerror=window.__xss=1>"},"<script>window.__xss=2</script>":"key",` +
      `"big":${JSON.stringify(big)},"uptime_s":273600,"lag_s":75,"rx_bytes":12345678}}`;
    assert.equal(await page.evaluate((f) => window.registry.ingest(f), frame), true);
    await waitRow(page, "updater", (tr) => tr.dataset.status === "ok");
    const r = await page.evaluate((sel) => {
      const tr = eval(sel);
      const chips = Object.fromEntries([...tr.querySelectorAll(".chip")].map((c) => [
        c.querySelector(".key")?.textContent ?? c.textContent,
        { shown: c.hasAttribute("data-truncated") ? c.querySelector(".short").textContent : c.querySelector(".full").textContent,
          title: c.getAttribute("title") },
      ]));
      return {
        chips,
        elements: tr.querySelectorAll("img, script, i, svg").length,
        xss: window.__xss,
        polluted: ({}).polluted,
        history: window.registry.history("updater").beats.length,
      };
    }, row("updater"));
    assert.equal(r.elements, 0);
    assert.equal(r.xss, undefined);
    assert.equal(r.polluted, undefined);
    assert.equal(r.chips["__proto__: "].shown.startsWith("polluted=<img"), true, JSON.stringify(r.chips["__proto__: "]));
    assert.equal(r.chips["<script>window.__xss=2</script>: "].shown, "key");
    assert.equal(r.chips["big: "].shown.length, 48);
    assert.ok(r.chips["big: "].title.startsWith("big: <i>x</i>"), "the long value is in the tooltip");
    assert.ok(r.chips["big: "].title.length <= 1000 + "big: ".length);
    assert.deepEqual(r.chips["uptime_s: "], { shown: "3 d 4 h", title: "uptime_s: 273600" });
    assert.deepEqual(r.chips["lag_s: "], { shown: "1 min 15 s", title: "lag_s: 75" });
    assert.deepEqual(r.chips["rx_bytes: "], { shown: "12,345,678", title: "rx_bytes: 12345678" });
    assert.equal(r.history, 1);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test("a freed registry: the panel explains instead of keeping a frozen table", async () => {
    const page = await openDemo(browser, gw, QUERY);
    await waitRow(page, "api", (tr) => tr.dataset.status === "ok");
    const errors = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.evaluate(() => window.registry.free());
    await page.waitForFunction(() => !document.querySelector("worker-panel").shadowRoot.querySelector(".empty").hidden);
    const notice = await page.evaluate(() => {
      const root = document.querySelector("worker-panel").shadowRoot;
      return { text: root.querySelector(".empty").textContent, table: root.querySelector("table").hidden };
    });
    assert.match(notice.text, /^This registry has been released/);
    assert.equal(notice.table, true);
    assert.equal(errors.length, 1, `reported once: ${errors.join("\n")}`);
    await page.close();
  });

  test("axe-core finds nothing in either theme, with actions, LATE and STALE rows shown", async () => {
    for (const scheme of ["light", "dark"]) {
      const page = await openDemo(browser, gw, QUERY, { viewport: { width: 1280, height: 900 }, colorScheme: scheme });
      await waitRow(page, "api", (tr) => tr.dataset.status === "ok" && !!tr.querySelector("button.action"));
      await page.evaluate(() => {
        const panel = document.querySelector("worker-panel");
        panel.hideUnknown = true;
        document.querySelector("details").open = true;
      });
      await waitBeats(page, "bus");
      await post(gw, "bus", "stop");
      try {
        await waitRow(page, "bus", (tr) => tr.hasAttribute("data-late"), 5000);
        await page.addScriptTag({ content: AXE });
        const violations = await page.evaluate(async () => {
          const result = await window.axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
          });
          return result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
        });
        assert.deepEqual(violations, [], `${scheme}: ${JSON.stringify(violations, null, 1)}`);
      } finally {
        await post(gw, "bus", "start");
      }
      assert.deepEqual(page.errors, []);
      await page.close();
    }
  });

  test("screenshots at 320 px and 1280 px, light and dark, with LATE, STALE and actions", async (t) => {
    mkdirSync(SHOTS, { recursive: true });
    const written = [];
    for (const scheme of ["light", "dark"]) {
      for (const width of [1280, 320]) {
        const page = await openDemo(browser, gw, QUERY, { viewport: { width, height: 900 }, colorScheme: scheme });
        await waitRow(page, "api", (tr) => tr.dataset.status === "ok" && !!tr.querySelector("button.action"));
        await waitBeats(page, "agent", 8);
        await post(gw, "forwarder", "stop");
        try {
          await waitRow(page, "forwarder", (tr) => tr.dataset.status === "stale", 5000);
          await post(gw, "agent", "stop");
          await waitRow(page, "agent", (tr) => tr.hasAttribute("data-late"), 5000);
          const png = await page.screenshot({ fullPage: true });
          const file = `panel-${width}-${scheme}.png`;
          writeFileSync(join(SHOTS, file), png);
          written.push(file);
          if (width === 1280 && scheme === "light") {
            // The panel alone, as the README shows it (docs/panel.png).
            await page.locator("worker-panel").screenshot({ path: join(SHOTS, "panel-only-1280-light.png") });
            written.push("panel-only-1280-light.png");
          }
          const image = decodePng(png);
          assert.equal(image.width, width);
          assert.ok(distinctColours(image) >= 16, `${file}: nearly blank`);
          const layout = await page.evaluate(() => {
            const root = document.querySelector("worker-panel").shadowRoot;
            const strips = [...root.querySelectorAll(".strip")].map((s) => s.getBoundingClientRect());
            return {
              overflow: document.scrollingElement.scrollWidth - innerWidth,
              // Worker names are read whole, LATE marker and cadence note beside them.
              cutNames: [...root.querySelectorAll("tbody .name")].filter((n) => n.scrollWidth > n.clientWidth + 1)
                .map((n) => n.textContent),
              // One line of ticks: no strip wraps or grows.
              stripHeights: [...new Set(strips.filter((b) => b.height > 0).map((b) => Math.round(b.height)))],
              // Per row: ticks shown, and the beats that fit the axis (the
              // strip spans `slots` cadences and shows at most `slots` ticks).
              ticks: [...root.querySelectorAll("tbody tr")].map((tr) => {
                const left = tr.querySelector(".strip").getBoundingClientRect().left;
                const shown = [...tr.querySelectorAll(".tick")]
                  .filter((k) => k.getBoundingClientRect().width > 0 && k.getBoundingClientRect().left >= left).length;
                const h = window.registry.history(tr.dataset.worker);
                const unit = Number((h.cadence_s ?? 0.5).toPrecision(2));
                const slots = innerWidth <= 620 ? 12 : 30;
                const fit = h.beats.slice(0, slots).filter((b) => b / unit < slots).length;
                return [tr.dataset.worker, shown, fit];
              }),
            };
          });
          assert.equal(layout.overflow, 0, `${file}: the page scrolls sideways`);
          assert.deepEqual(layout.cutNames, [], `${file}: names cut short`);
          assert.deepEqual(layout.stripHeights, [20], `${file}: strips of several heights`);
          // Fewer ticks at 320 px, never wrapped: each row shows the beats
          // that fit its axis (one may sit on the edge).
          for (const [name, shown, fit] of layout.ticks) {
            assert.ok(Math.abs(shown - fit) <= 1, `${file}: ${name} shows ${shown} ticks, ${fit} fit`);
            if (width === 320) assert.ok(shown <= 12, `${file}: ${name} shows ${shown} ticks at 320 px`);
          }
        } finally {
          await post(gw, "forwarder", "start");
          await post(gw, "agent", "start");
        }
        assert.deepEqual(page.errors, []);
        await page.close();
      }
    }
    t.diagnostic(`screenshots for review: ${written.map((f) => `tests/e2e/screenshots/${f}`).join(", ")}`);
  });
});
