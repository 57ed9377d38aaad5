// The npm package as users install it. `npm pack` at the repo root (prepack
// builds pkg/ atomically and checks it), then one fresh app per bundler
// (tests/bundlers/<bundler>/, each with a lock file pinning its bundler)
// installs the tarball, builds in production mode, and is served as a plain
// static site (wasm as application/wasm) to headless Chromium, where the
// registry must initialise and <worker-panel> render its rows with no page
// error and no failed request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, ROOT } from "../support/procs.mjs";
import { serveStatic } from "../support/static.mjs";
import { problems } from "../../scripts/check-pkg.mjs";
import { BUNDLERS, build, bundleSizes, filesUnder, install, pack, sh, workDir } from "./matrix.mjs";

/** Loads a built site in a new page; resolves to what a user would see. */
async function visit(browser, dist) {
  const server = await serveStatic({ "/": dist });
  const page = await browser.newPage();
  const errors = [];
  const failed = [];
  const wasm = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.url()}: ${r.status()}`);
    if (r.url().endsWith(".wasm")) wasm.push({ url: r.url(), status: r.status(), type: r.headers()["content-type"] });
  });
  try {
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 20000 });
    const ready = await page.evaluate(() => document.body.dataset.ready);
    const panel = await page.evaluate(async () => {
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const root = document.querySelector("worker-panel")?.shadowRoot;
      if (!root) return null;
      return {
        rows: [...root.querySelectorAll("tbody tr")].map((tr) => [tr.dataset.worker, tr.dataset.status]),
        header: root.querySelector(".cadence")?.textContent,
        banner: root.querySelector(".banner")?.textContent,
      };
    });
    return { ready, panel, errors, failed, wasm };
  } finally {
    await page.close();
    await server.close();
  }
}

function assertRenders(seen) {
  assert.equal(seen.ready, "yes", `the app did not initialise: ${seen.ready}; failed requests: ${seen.failed.join(", ")}`);
  assert.deepEqual(seen.errors, [], "page errors");
  assert.deepEqual(seen.failed, [], "failed requests");
  assert.ok(seen.panel, "no <worker-panel> with a shadow root");
  assert.equal(seen.panel.rows.length, 10, JSON.stringify(seen.panel.rows));
  assert.deepEqual(seen.panel.rows[0], ["api", "ok"]);
  assert.ok(seen.panel.rows.slice(1).every(([, status]) => status === "unknown"), JSON.stringify(seen.panel.rows));
  assert.equal(seen.panel.header, "Heartbeat every 30 s · ok within 90 s");
  assert.match(seen.panel.banner, /^NOT CONNECTED/);
  assert.equal(seen.wasm.length, 1, `wasm requests: ${JSON.stringify(seen.wasm)}`);
  assert.equal(seen.wasm[0].type, "application/wasm");
}

describe("the npm package in a fresh app per bundler", { timeout: 900000 }, () => {
  const work = workDir();
  const pkgDir = join(ROOT, "pkg");
  let packed;
  let watch;
  const apps = {};
  let browser;

  before(async () => {
    // A pkg/ to watch while prepack rebuilds it: on a fresh clone, build once.
    if (!existsSync(pkgDir)) await sh("bash", ["scripts/build-pkg.sh"], ROOT);
    // Anything reading pkg/ during the build (npm pack, a dev server) must
    // only ever see a complete package: look every 2 ms.
    watch = { polls: 0, incomplete: [] };
    const timer = setInterval(() => {
      watch.polls++;
      let found;
      try {
        found = problems(pkgDir);
      } catch (error) {
        found = [String(error)];
      }
      if (found.length && watch.incomplete.length < 20) watch.incomplete.push(found.join("; "));
    }, 2);
    try {
      packed = await pack(work);
    } finally {
      clearInterval(timer);
    }
    // Installs are mostly waiting on the registry and the disk: in parallel.
    // Builds use the CPU: one after another.
    const names = Object.keys(BUNDLERS);
    const installs = await Promise.allSettled(names.map((name) => install(name, packed.tarball, work)));
    for (const [i, name] of names.entries()) {
      const app = (apps[name] = { error: installs[i].reason });
      if (app.error) continue;
      Object.assign(app, installs[i].value);
      try {
        Object.assign(app, await build(app.dir));
        app.sizes = bundleSizes(app.dist);
      } catch (error) {
        app.error = error;
      }
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("npm pack ships exactly the package: the wasm build, the panel, the docs", (t) => {
    t.diagnostic(`Node ${process.version}; npm pack (prepack rebuilds pkg/) took ${packed.seconds} s`);
    const snippet = packed.files.find((f) => /^pkg\/snippets\/worker-registry-[0-9a-f]+\/src\/host\.js$/.test(f));
    assert.ok(snippet, `no host.js snippet in the tarball:\n${packed.files.join("\n")}`);
    assert.deepEqual(packed.files, [
      "LICENSE",
      "README.md",
      "package.json",
      "pkg/index.d.ts",
      "pkg/index.js",
      snippet,
      "pkg/worker_registry.d.ts",
      "pkg/worker_registry.js",
      "pkg/worker_registry_bg.wasm",
      "pkg/worker_registry_bg.wasm.d.ts",
      "www/worker-panel.d.ts",
      "www/worker-panel.js",
    ]);
  });

  test("the build swaps pkg/ in whole: a reader never sees a half-built package", (t) => {
    t.diagnostic(`pkg/ checked ${watch.polls} times while npm pack rebuilt it`);
    assert.ok(watch.polls > 10, "pkg/ was hardly watched: the pack's build ended too soon to tell");
    assert.deepEqual(watch.incomplete, []);
    assert.deepEqual(problems(pkgDir), []);
  });

  for (const [name, { label, bundler }] of Object.entries(BUNDLERS)) {
    test(`${label}: the built app initialises the registry and renders <worker-panel>`, async (t) => {
      const app = apps[name];
      if (app.error) throw app.error;
      t.diagnostic(`${bundler} ${app.bundlerVersion}: npm install ${app.installSeconds} s, npm run build ${app.buildSeconds} s; ` +
        `JS ${app.sizes.js.gzip} B gzip (${app.sizes.js.files.join(", ")}), wasm ${app.sizes.wasm.gzip} B gzip`);
      assert.equal(app.bundlerVersion, app.pinned, `${bundler} is not the version the app pins`);
      assert.equal(app.isLink, false, "worker-registry is a link, not the installed tarball");
      // Exactly one .wasm emitted, byte for byte the package's.
      assert.equal(app.sizes.wasm.files.length, 1, `files in dist/: ${filesUnder(app.dist).join(", ")}`);
      assert.deepEqual(
        readFileSync(join(app.dist, app.sizes.wasm.files[0])),
        readFileSync(join(app.dir, "node_modules/worker-registry/pkg/worker_registry_bg.wasm")),
      );
      assertRenders(await visit(browser, app.dist));
    });
  }

  test("TypeScript: the installed tarball's types check strictly, from node_modules", async (t) => {
    // tests/types/check.sh checks the repo through the package's self-reference;
    // here the same consumer resolves "worker-registry" in an app's
    // node_modules, from the files the tarball really ships.
    const app = apps.esbuild;
    if (app.error) throw app.error;
    const dir = join(app.dir, "types");
    for (const f of ["consumer.ts", "wasm.d.ts", "tsconfig.bundler.json", "tsconfig.node16.json"]) {
      cpSync(join(ROOT, "tests/types", f), join(dir, f));
    }
    for (const resolution of ["bundler", "node16"]) {
      await sh(join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "--strict", "-p", join(dir, `tsconfig.${resolution}.json`)], dir);
      t.diagnostic(`moduleResolution ${resolution}: no errors`);
    }
  });

  test("Rollup without @web/rollup-plugin-import-meta-assets emits no .wasm, and init() fails with a 404", async () => {
    const app = apps.rollup;
    if (app.error) throw app.error;
    // The same app, bundled with node-resolve only (what the README warns about).
    const dist = join(app.dir, "dist-without-assets");
    const { stderr } = await sh(join(app.dir, "node_modules/.bin/rollup"), ["main.js", "--format", "es", "--dir", dist, "-p", "node-resolve"], app.dir);
    cpSync(join(app.dir, "index.html"), join(dist, "index.html"));
    // Rollup says nothing about it (its warnings start with "(!)")...
    assert.doesNotMatch(stderr, /\(!\)/);
    assert.deepEqual(filesUnder(dist).filter((f) => f.endsWith(".wasm")), []);
    // ...and the page fails where the README says.
    const seen = await visit(browser, dist);
    assert.match(seen.ready, /^error: Error: failed to fetch Wasm: 404 Not Found/);
    assert.ok(seen.failed.some((f) => /worker_registry_bg\.wasm: 404$/.test(f)), seen.failed.join(", "));
  });
});
