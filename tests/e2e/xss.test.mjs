// Untrusted strings from the bus render as text: a published beat whose
// extras hold markup shows the markup literally and runs no script.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startGateway } from "../support/procs.mjs";
import { PUBLISHER_TOKEN, STATIC, openDemo, panelState, publish } from "./helpers.mjs";

const IMG = "<img src=x onerror=window.__xss=1>";

let browser;
let gw;

before(async () => {
  browser = await launchBrowser();
  gw = await startGateway([...STATIC, "--publisher-token", PUBLISHER_TOKEN]);
});

after(async () => {
  await browser?.close();
  await gw?.stop();
});

test("markup in extras is shown as text and never runs", async () => {
  const page = await openDemo(browser, gw, "interval=30&window=90");
  await page.waitForFunction(() => window.registry.connection().state === "open");
  await publish(gw, "system.updater.health", {
    worker: "updater",
    ts: Date.now() / 1000,
    note: IMG,
    [IMG]: "key",
    realism: {
      llm_enabled: true,
      llm_backend: "<img src=y onerror=window.__xss=2>",
      llm_breaker_state: "<script>window.__xss=3</script>",
    },
    nested: { deeper: "<svg onload=window.__xss=4>" },
  });
  await page.waitForFunction(() => document.querySelector("worker-panel")
    .shadowRoot.querySelector('tr[data-worker="updater"]').dataset.status === "ok");
  await page.waitForTimeout(300); // time for an image error handler to fire, were there one

  const state = await panelState(page);
  const updater = state.rows.find((r) => r.name === "updater");
  assert.ok(updater.details.includes(`note: ${IMG}`), updater.details);
  assert.ok(updater.details.includes(`${IMG}: key`), updater.details);
  assert.ok(updater.details.includes("<img src=y onerror=window.__xss=2>"), updater.details);
  assert.ok(updater.details.includes("<script>window.__xss=3</script>"), updater.details);
  assert.ok(updater.details.includes("deeper=<svg onload=window.__xss=4>"), updater.details);
  const dom = await page.evaluate(() => {
    const root = document.querySelector("worker-panel").shadowRoot;
    return {
      xss: window.__xss,
      inPanel: root.querySelectorAll("img, script:not([src]), svg").length,
      inPage: document.querySelectorAll("img, svg").length,
      titles: [...root.querySelectorAll("[title]")].map((n) => n.getAttribute("title")).join("\n"),
    };
  });
  assert.equal(dom.xss, undefined);
  assert.equal(dom.inPanel, 0);
  assert.equal(dom.inPage, 0);
  assert.ok(dom.titles.includes("<img src=y onerror=window.__xss=2>"), dom.titles);
  assert.deepEqual(page.errors, []);
  await page.close();
});
