// The npm package as a user gets it: `npm pack` at the repo root (prepack
// builds pkg/), installed into a copy of the tests/vite-app fixture, bundled
// by `vite build`, and loaded in Chromium from a plain static server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { promisify } from "node:util";
import { ROOT, launchBrowser } from "../support/procs.mjs";

const run = promisify(execFile);
const FIXTURE = join(ROOT, "tests/vite-app");
const TYPES = {
  ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
  ".wasm": "application/wasm", ".svg": "image/svg+xml", ".json": "application/json",
};

async function sh(cmd, args, cwd) {
  try {
    return await run(cmd, args, { cwd, maxBuffer: 64 << 20, timeout: 180000 });
  } catch (error) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${error.stdout}\n${error.stderr}`);
  }
}

/** Serves `dir` on a free loopback port, nothing else. */
async function serve(dir) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    let file = join(dir, path);
    if (path.endsWith("/")) file = join(file, "index.html");
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  server.url = `http://127.0.0.1:${server.address().port}`;
  return server;
}

describe("the npm package in a fresh Vite app", { timeout: 240000 }, () => {
  const work = mkdtempSync(join(tmpdir(), "wr-package-"));
  const app = join(work, "app");
  let tarball;
  let packed;
  let server;
  let browser;
  const times = [];

  before(async () => {
    const timed = async (what, ...args) => {
      const start = Date.now();
      const out = await sh(...args);
      times.push(`${what} ${((Date.now() - start) / 1000).toFixed(1)} s`);
      return out;
    };
    await timed("npm pack (prepack builds pkg/)", "npm", ["pack", "--pack-destination", work], ROOT);
    const name = readdirSync(work).find((f) => f.endsWith(".tgz"));
    assert.ok(name, `npm pack left no tarball in ${work}`);
    tarball = join(work, name);
    packed = (await sh("tar", ["-tzf", tarball], work)).stdout.split("\n").filter(Boolean);

    cpSync(FIXTURE, app, {
      recursive: true,
      filter: (src) => !/[/\\](node_modules|dist)([/\\]|$)/.test(src.slice(FIXTURE.length)),
    });
    await timed("npm install", "npm", ["install", "--no-audit", "--no-fund", tarball], app);
    await timed("vite build", join(app, "node_modules/.bin/vite"), ["build"], app);
  });

  after(async () => {
    server?.close();
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("npm pack ships the wasm package and the panel, not the sources", (t) => {
    t.diagnostic(times.join(", "));
    for (const file of ["pkg/worker_registry_bg.wasm", "pkg/index.js", "pkg/index.d.ts", "pkg/worker_registry.js",
      "www/worker-panel.js", "www/worker-panel.d.ts", "package.json"]) {
      assert.ok(packed.includes(`package/${file}`), `${file} is not in the tarball:\n${packed.join("\n")}`);
    }
    for (const prefix of ["package/src/", "package/gateway/", "package/tests/", "package/target/", "package/www/index.html"]) {
      assert.ok(!packed.some((f) => f.startsWith(prefix)), `${prefix} is in the tarball`);
    }
  });

  test("vite build emits the .wasm file by itself", () => {
    const assets = readdirSync(join(app, "dist/assets"));
    const wasm = assets.filter((f) => f.endsWith(".wasm"));
    assert.equal(wasm.length, 1, `assets: ${assets.join(", ")}`);
    assert.deepEqual(
      readFileSync(join(app, "dist/assets", wasm[0])),
      readFileSync(join(app, "node_modules/worker-registry/pkg/worker_registry_bg.wasm")),
    );
    const js = assets.filter((f) => f.endsWith(".js")).map((f) => readFileSync(join(app, "dist/assets", f), "utf8"));
    assert.ok(js.some((code) => code.includes(wasm[0])), "no bundle refers to the emitted .wasm");
  });

  test("the built app initialises the registry and renders <worker-panel> with 10 rows", async () => {
    server = await serve(join(app, "dist"));
    browser = await launchBrowser();
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 15000 });
    assert.equal(await page.evaluate(() => document.body.dataset.ready), "yes");
    const panel = await page.evaluate(async () => {
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const root = document.querySelector("worker-panel").shadowRoot;
      return {
        rows: [...root.querySelectorAll("tbody tr")].map((tr) => [tr.dataset.worker, tr.dataset.status]),
        header: root.querySelector(".cadence").textContent,
        banner: root.querySelector(".banner").textContent,
      };
    });
    assert.equal(panel.rows.length, 10);
    assert.deepEqual(panel.rows[0], ["api", "ok"]);
    assert.ok(panel.rows.slice(1).every(([, status]) => status === "unknown"), JSON.stringify(panel.rows));
    assert.equal(panel.header, "Heartbeat every 30 s · ok within 90 s");
    assert.match(panel.banner, /^NOT CONNECTED/);
    assert.deepEqual(errors, []);
  });
});
