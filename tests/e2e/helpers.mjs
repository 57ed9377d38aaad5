// Shared pieces of the browser end-to-end tests: the simulated gateway's
// arguments, reading the panel's state out of its shadow DOM, and a test
// publisher.
import { once } from "node:events";
import WebSocket from "ws";

export const PUBLISHER_TOKEN = "e2e-publisher";

/** The allowlist, in panel order (SPEC section 5). */
export const ALLOWLIST = [
  "api", "bus", "collector", "profiler", "sniffer",
  "prober", "mutator", "agent", "forwarder", "updater",
];

/** Gateway arguments that serve the demo page (www/ at /, pkg/ at /pkg/). */
export const STATIC = ["--static", "www", "--static", "/pkg=pkg"];

/** Publishes one event through the gateway as a test client (needs --publisher-token). */
export async function publish(gw, topic, payload) {
  const ws = new WebSocket(gw.url);
  await once(ws, "open");
  ws.send(JSON.stringify({ op: "auth", token: PUBLISHER_TOKEN }));
  ws.send(JSON.stringify({ op: "pub", topic, payload }));
  ws.send(JSON.stringify({ op: "ping" }));
  await new Promise((resolve, reject) => {
    ws.on("message", (m) => {
      const frame = JSON.parse(m);
      if (frame.op === "pong") resolve();
      if (frame.op === "error") reject(new Error(frame.message));
    });
    ws.on("close", () => reject(new Error("closed before pong")));
  });
  ws.close();
}

/** Opens the demo page and fails the test on any page error. */
export async function openDemo(browser, gw, query, pageOptions = {}) {
  const page = await browser.newPage(pageOptions);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.errors = errors;
  await page.goto(`${gw.http}/?${query}`);
  await page.waitForFunction(() => window.registry !== undefined, null, { timeout: 10000 });
  return page;
}

/** The panel as data: rows, banner, header, diagnostics, live region. */
export function panelState(page) {
  return page.evaluate(() => {
    const root = document.querySelector("worker-panel").shadowRoot;
    const text = (sel, from = root) => from.querySelector(sel)?.textContent ?? null;
    const banner = root.querySelector(".banner");
    return {
      rows: [...root.querySelectorAll("tbody tr")].map((tr) => ({
        name: tr.dataset.worker,
        status: tr.dataset.status,
        word: text(".word", tr),
        ago: text(".ago", tr),
        countdown: tr.querySelector(".countdown").hidden ? null : text(".countdown", tr),
        details: text(".extra", tr),
      })),
      banner: banner.hidden ? null : banner.textContent,
      cadence: text(".cadence"),
      diag: text(".diag"),
      live: text("[aria-live]"),
      text: root.querySelector(".panel").textContent,
    };
  });
}
