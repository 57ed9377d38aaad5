// The demo page against the gateway's simulated fleet: row order, updater
// never heard from, forwarder turning stale on time, the intruder refused,
// rows updated in place, and screenshots at desktop and phone widths.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, launchBrowser, startGateway } from "../support/procs.mjs";
import { ALLOWLIST, STATIC, openDemo, panelState } from "./helpers.mjs";
import { decodePng, distinctColours } from "./png.mjs";

// The fleet beats every INTERVAL s; forwarder sends SILENT_AFTER beats, the
// first one within INTERVAL/10 of the start (the simulator's stagger).
const INTERVAL = 0.5;
const SILENT_AFTER = 4;
const WINDOW = 3 * INTERVAL;
const QUERY = `interval=${INTERVAL}&window=${WINDOW}`;
const ARTIFACTS = join(ROOT, "artifacts");

describe("the demo page with the simulated fleet", () => {
  let browser;
  let gw;
  let startedAt;

  before(async () => {
    browser = await launchBrowser();
    startedAt = Date.now();
    gw = await startGateway([
      "--simulate", "--interval", String(INTERVAL), "--silent-after", String(SILENT_AFTER),
      ...STATIC, "--admin",
    ]);
  });

  after(async () => {
    await gw?.stop();
    await browser?.close();
  });

  test("rows in allowlist order; updater UNKNOWN, forwarder STALE on time, no intruder", async (t) => {
    const page = await openDemo(browser, gw, QUERY);
    await page.waitForFunction(() =>
      document.querySelector("worker-panel").shadowRoot.querySelectorAll("tbody tr").length === 10);
    // Everything the live region says (prober may say it is late afterwards).
    await page.evaluate(() => {
      const region = document.querySelector("worker-panel").shadowRoot.querySelector("[aria-live]");
      window.__said = [];
      new MutationObserver(() => window.__said.push(region.textContent))
        .observe(region, { childList: true, characterData: true, subtree: true });
    });
    const first = await panelState(page);
    assert.deepEqual(first.rows.map((r) => r.name), ALLOWLIST);
    assert.equal(first.cadence, "Heartbeat every 0.5 s · ok within 1.5 s");

    // The page saw forwarder alive, then saw it go stale. Its last beat left
    // between (SILENT_AFTER - 1) intervals and that plus the stagger after
    // the start; the registry turns it stale one window later.
    await page.waitForFunction(() => document.querySelector("worker-panel")
      .shadowRoot.querySelector('tr[data-worker="forwarder"]').dataset.status === "ok");
    await page.waitForFunction(() => document.querySelector("worker-panel")
      .shadowRoot.querySelector('tr[data-worker="forwarder"]').dataset.status === "stale",
    null, { polling: 20, timeout: 10000 });
    const staleAfter = (Date.now() - startedAt) / 1000;
    const earliest = (SILENT_AFTER - 1) * INTERVAL + WINDOW;
    const latest = earliest + INTERVAL / 10 + 1.0; // + process start-up and render latency
    assert.ok(staleAfter >= earliest - 0.1, `forwarder stale after ${staleAfter}s, before ${earliest}s`);
    assert.ok(staleAfter <= latest, `forwarder stale after ${staleAfter}s, later than ${latest}s`);
    t.diagnostic(`forwarder turned stale ${staleAfter} s after the gateway started (bounds ${earliest}..${latest} s)`);

    // Several windows later: everyone else beats, updater never did.
    await page.waitForTimeout(2 * WINDOW * 1000);
    const state = await panelState(page);
    assert.deepEqual(state.rows.map((r) => r.name), ALLOWLIST);
    const byName = Object.fromEntries(state.rows.map((r) => [r.name, r]));
    // prober slows down now and then (up to 2.7 intervals, close to the
    // window), so only the steady workers are held to the countdown.
    for (const name of ALLOWLIST.filter((n) => n !== "forwarder" && n !== "updater" && n !== "prober")) {
      assert.equal(byName[name].status, "ok", `${name}: ${JSON.stringify(byName[name])}`);
      assert.match(byName[name].ago, /^\d+s ago$/);
      assert.match(byName[name].countdown, /^stale in 0:0[0-2]$/);
    }
    assert.deepEqual(byName.updater, {
      name: "updater", status: "unknown", word: "UNKNOWN", ago: "—", countdown: null, details: "",
    });
    assert.equal(byName.forwarder.word, "STALE");
    assert.match(byName.forwarder.ago, /^\d+s ago$/);
    assert.equal(byName.forwarder.countdown, null);
    const said = await page.evaluate(() => window.__said);
    assert.ok(said.some((t) => /forwarder is now stale/.test(t)), said.join(" / "));

    // The intruder's beats did arrive, and were refused.
    assert.ok(!state.text.includes("intruder"));
    const stats = await page.evaluate(() => window.registry.stats());
    assert.ok(stats.rejected.unknown_worker > 0, JSON.stringify(stats));
    assert.match(state.diag, /^accepted [\d,]+ · ignored [\d,]+ · rejected [1-9][\d,]*$/);

    // The realism badges.
    const badges = await page.evaluate(() => {
      const root = document.querySelector("worker-panel").shadowRoot;
      const badge = (name) => {
        const b = root.querySelector(`tr[data-worker="${name}"] .badge`);
        return { hidden: b.hidden, text: b.textContent, tone: b.dataset.tone };
      };
      return { agent: badge("agent"), mutator: badge("mutator"), api: badge("api") };
    });
    assert.deepEqual(badges.mutator, { hidden: false, text: "LLM OFF", tone: "off" });
    assert.match(badges.agent.text, /^ollama(closed|half-open|open)$/);
    assert.equal(badges.api.hidden, true);
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test("updates rows in place: same nodes, focus and selection kept, no nodes but ticks added, none removed", async () => {
    const page = await openDemo(browser, gw, QUERY);
    await page.waitForFunction(() => document.querySelector("worker-panel")
      .shadowRoot.querySelector('tr[data-worker="agent"] .chip[tabindex="0"]'));
    await page.evaluate(() => {
      const panel = document.querySelector("worker-panel");
      const root = panel.shadowRoot;
      const agent = root.querySelector('tr[data-worker="agent"]');
      const chip = agent.querySelector('.chip[tabindex="0"]');
      chip.focus();
      const name = root.querySelector('tr[data-worker="api"] .name');
      const range = document.createRange();
      range.selectNodeContents(name);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      window.__kept = {
        rows: [...root.querySelectorAll("tbody tr")],
        ago: agent.querySelector(".ago").firstChild,
        chip,
        name,
        accepted: window.registry.stats().accepted,
        agoText: agent.querySelector(".ago").textContent,
      };
      window.__mutations = { added: 0, removed: 0, text: 0 };
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.type === "childList") {
            // Heartbeat ticks are added while a history fills; nothing else is.
            window.__mutations.added += [...r.addedNodes].filter((n) => n.className !== "tick").length;
            window.__mutations.ticks = (window.__mutations.ticks ?? 0) + r.addedNodes.length;
            window.__mutations.removed += r.removedNodes.length;
          } else {
            window.__mutations.text += 1;
          }
        }
      }).observe(root.querySelector("tbody"), { childList: true, subtree: true, characterData: true });
    });
    await page.waitForTimeout(2500); // five beats of every worker, two ticks of the clock
    const result = await page.evaluate(() => {
      const panel = document.querySelector("worker-panel");
      const root = panel.shadowRoot;
      const kept = window.__kept;
      const rows = [...root.querySelectorAll("tbody tr")];
      const agent = root.querySelector('tr[data-worker="agent"]');
      const range = getSelection().rangeCount ? getSelection().getRangeAt(0) : null;
      return {
        sameRows: rows.length === kept.rows.length && rows.every((r, i) => r === kept.rows[i]),
        sameAgoText: agent.querySelector(".ago").firstChild === kept.ago,
        sameChip: agent.querySelector('.chip[tabindex="0"]') === kept.chip,
        focused: document.activeElement === panel && root.activeElement === kept.chip,
        selection: range !== null && range.startContainer.parentNode === kept.name
          || range?.startContainer === kept.name,
        selected: range?.toString(),
        beats: window.registry.stats().accepted - kept.accepted,
        mutations: window.__mutations,
      };
    });
    assert.ok(result.beats >= 20, `only ${result.beats} beats in 2.5 s`);
    assert.ok(result.mutations.text > 0, "nothing was re-rendered");
    assert.deepEqual({ added: result.mutations.added, removed: result.mutations.removed }, { added: 0, removed: 0 });
    assert.ok(result.sameRows, "rows were replaced");
    assert.ok(result.sameAgoText, "the LAST SEEN text node was replaced");
    assert.ok(result.sameChip, "the focused chip was replaced");
    assert.ok(result.focused, "focus was lost");
    assert.ok(result.selection, "the selection was lost");
    assert.equal(result.selected, "api");
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  test("screenshots at 1280 px and 375 px, light and dark, are not blank; 320 px fits", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const scheme of ["light", "dark"]) {
      for (const width of scheme === "light" ? [1280, 375, 320] : [1280, 375]) {
        const page = await openDemo(browser, gw, QUERY, { viewport: { width, height: 800 }, colorScheme: scheme });
        await page.waitForFunction(() => {
          const root = document.querySelector("worker-panel").shadowRoot;
          return root.querySelector('tr[data-worker="api"]')?.dataset.status === "ok";
        });
        const png = await page.screenshot({ fullPage: true });
        const suffix = scheme === "light" ? "" : "-dark";
        writeFileSync(join(ARTIFACTS, `panel-${width}${suffix}.png`), png);

        const image = decodePng(png);
        assert.equal(image.width, width);
        const colours = distinctColours(image);
        assert.ok(colours >= 16, `${width} px ${scheme}: only ${colours} colours`);
        const layout = await page.evaluate(() => {
          const root = document.querySelector("worker-panel").shadowRoot;
          return {
            names: [...root.querySelectorAll("tbody .name")].map((n) => n.textContent),
            visibleNames: [...root.querySelectorAll("tbody .name")].every((n) => n.getBoundingClientRect().width > 20),
            overflow: document.scrollingElement.scrollWidth - innerWidth,
          };
        });
        assert.deepEqual(layout.names, ALLOWLIST);
        assert.ok(layout.visibleNames, `${width} px: a worker name is squeezed`);
        assert.equal(layout.overflow, 0, `${width} px: the page scrolls sideways`);
        assert.deepEqual(page.errors, []);
        await page.close();
      }
    }
  });
});
