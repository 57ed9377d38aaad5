// The connection banner against a real gateway: a frozen gateway is found
// by the keepalive, a stopped one at once; restarting it clears the banner;
// a gateway that refuses the dashboard says UNAUTHORIZED.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, launchBrowser, startGateway } from "../support/procs.mjs";
import { STATIC, openDemo, panelState } from "./helpers.mjs";

// Short keepalive and backoff for the page, so the test stays short.
const PING_MS = 1000;
const PONG_MS = 1000;
const BACKOFF_MAX_MS = 1000;
const QUERY = `interval=0.5&window=1.5&ping=${PING_MS}&pong=${PONG_MS}&backoff=${BACKOFF_MAX_MS}`;
// A dead socket is noticed at most a ping interval plus a pong timeout after
// the last frame; allow a second for rendering and a busy machine.
const OFFLINE_BOUND_MS = PING_MS + PONG_MS + 1000;
// One backoff delay, the connection and the re-subscription.
const ONLINE_BOUND_MS = BACKOFF_MAX_MS + 3000;

let browser;
let gw;
let locked;

before(async () => {
  browser = await launchBrowser();
  gw = await startGateway(["--simulate", "--interval", "0.5", ...STATIC]);
});

after(async () => {
  if (gw?.child?.exitCode === null) gw.child.kill("SIGCONT");
  await browser?.close();
  await gw?.stop();
  await locked?.stop();
});

function banner(page) {
  return page.evaluate(() => {
    const b = document.querySelector("worker-panel").shadowRoot.querySelector(".banner");
    return b.hidden ? null : b.textContent;
  });
}

async function waitBanner(page, predicate, ms) {
  const start = Date.now();
  await page.waitForFunction(predicate, null, { polling: 20, timeout: ms });
  return Date.now() - start;
}

const shown = () => !document.querySelector("worker-panel").shadowRoot.querySelector(".banner").hidden;
const hidden = () => document.querySelector("worker-panel").shadowRoot.querySelector(".banner").hidden;

test("the offline banner follows the gateway: frozen, resumed, stopped, restarted", async (t) => {
  const page = await openDemo(browser, gw, QUERY, { viewport: { width: 1280, height: 800 } });
  await page.waitForFunction(() => window.registry.connection().state === "open");
  await waitBanner(page, hidden, 2000);
  assert.equal(await banner(page), null);

  // Frozen: the socket stays open but nothing comes back; only the keepalive can tell.
  gw.child.kill("SIGSTOP");
  const frozen = await waitBanner(page, shown, OFFLINE_BOUND_MS);
  assert.match(await banner(page), /^BUS OFFLINE/);
  // Rows keep ageing while the bus is away.
  await page.waitForFunction(() => document.querySelector("worker-panel")
    .shadowRoot.querySelector('tr[data-worker="api"]').dataset.status === "stale", null, { timeout: 3000 });
  gw.child.kill("SIGCONT");
  await waitBanner(page, hidden, ONLINE_BOUND_MS);
  assert.equal((await panelState(page)).live, "Bus connection restored");
  await page.waitForFunction(() => document.querySelector("worker-panel")
    .shadowRoot.querySelector('tr[data-worker="api"]').dataset.status === "ok", null, { timeout: 3000 });

  // Stopped: the gateway closes with 1001 and the banner comes up at once,
  // counting down to the next attempt.
  await gw.stop();
  const stopped = await waitBanner(page, shown, OFFLINE_BOUND_MS);
  await page.waitForFunction(() => /^BUS OFFLINEfor \d+ s · (RECONNECTING in \d+s|reconnecting…)$/.test(
    document.querySelector("worker-panel").shadowRoot.querySelector(".banner").textContent));
  const conn = await page.evaluate(() => window.registry.connection());
  assert.equal(conn.bus_connected, false);
  assert.equal((await panelState(page)).live, "Bus connection lost"); // and no row noise
  mkdirSync(join(ROOT, "artifacts"), { recursive: true });
  await page.screenshot({ path: join(ROOT, "artifacts/panel-offline-1280.png"), fullPage: true });

  await gw.start(); // same port
  const back = await waitBanner(page, hidden, ONLINE_BOUND_MS);
  assert.equal(await banner(page), null);
  assert.deepEqual(page.errors, []);
  await page.close();
  t.diagnostic(`offline banner: frozen ${frozen} ms, stopped ${stopped} ms; back ${back} ms after restart`);
});

test("a gateway that refuses the dashboard shows UNAUTHORIZED", async () => {
  locked = await startGateway([...STATIC, "--token", "not-given-to-the-page"]);
  const page = await openDemo(browser, locked, "interval=30&window=90&backoff=1000");
  await page.waitForFunction(() => /^UNAUTHORIZED/.test(
    document.querySelector("worker-panel").shadowRoot.querySelector(".banner").textContent), null, { timeout: 10000 });
  const conn = await page.evaluate(() => window.registry.connection());
  assert.match(conn.last_error, /^unauthorized/);
  assert.deepEqual(page.errors, []);
  await page.close();
});
