// Shared pieces of the browser end-to-end tests: the simulated gateway's
// arguments, reading the panel's state out of its shadow DOM, and a test
// publisher.
import { gatewayPublish } from "../support/procs.mjs";

export const PUBLISHER_TOKEN = "e2e-publisher";

/** The allowlist, in panel order (docs/contract.md, section 5). */
export const ALLOWLIST = [
  "api", "bus", "collector", "profiler", "sniffer",
  "prober", "mutator", "agent", "forwarder", "updater",
];

/** Gateway arguments that serve the demo page (www/ at /, pkg/ at /pkg/). */
export const STATIC = ["--static", "www", "--static", "/pkg=pkg"];

/** Publishes one event through the gateway as a test client (needs --publisher-token). */
export function publish(gw, topic, payload) {
  return gatewayPublish(gw, PUBLISHER_TOKEN, topic, payload);
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
