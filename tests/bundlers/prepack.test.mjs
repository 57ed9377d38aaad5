// `npm pack` refuses an incomplete package. prepack is the atomic build
// followed by scripts/check-pkg.mjs --packlist; here the check runs alone (the
// build needs the Rust crate) on a copy of the package with one thing broken
// at a time, as a half-finished or damaged build would leave it, and npm pack
// must fail, say what is wrong, and leave no tarball.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "../support/procs.mjs";
import { sh, workDir } from "./matrix.mjs";

const run = promisify(execFile);
const BUILD = "bash scripts/build-pkg.sh";
const CHECK = "node scripts/check-pkg.mjs --packlist";

describe("npm pack refuses a broken pkg/", { timeout: 120000, concurrency: 4 }, () => {
  const work = workDir();
  let n = 0;

  before(async () => {
    if (!existsSync(join(ROOT, "pkg"))) await sh("bash", ["scripts/build-pkg.sh"], ROOT);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** A copy of the package whose prepack is the check alone; `breakIt(dir)` damages it. */
  async function packCopy(breakIt = () => {}) {
    const dir = join(work, `copy-${n++}`);
    for (const f of ["README.md", "LICENSE", "www/worker-panel.js", "www/worker-panel.d.ts", "scripts/check-pkg.mjs", "pkg"]) {
      cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    }
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    manifest.scripts = { prepack: CHECK };
    writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
    breakIt(dir);
    const out = join(dir, "out");
    mkdirSync(out);
    try {
      const { stderr } = await run("npm", ["pack", "--pack-destination", out], { cwd: dir });
      return { ok: true, stderr, tarballs: readdirSync(out) };
    } catch (error) {
      return { ok: false, stderr: error.stderr, tarballs: readdirSync(out) };
    }
  }

  test("prepack is the atomic build, then the check of what npm would pack", () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    assert.equal(scripts.prepack, `${BUILD} && ${CHECK}`);
  });

  test("a complete package packs", async () => {
    const result = await packCopy();
    assert.ok(result.ok, result.stderr);
    assert.equal(result.tarballs.length, 1);
    assert.match(result.stderr, /check-pkg: pkg is complete and npm packs all of it/);
  });

  const snippetDir = (dir) => join(dir, "pkg/snippets", readdirSync(join(dir, "pkg/snippets"))[0]);
  const broken = {
    "without the wasm": [(d) => rmSync(join(d, "pkg/worker_registry_bg.wasm")), /worker_registry_bg\.wasm is missing/],
    "with an empty wasm": [(d) => truncateSync(join(d, "pkg/worker_registry_bg.wasm")), /worker_registry_bg\.wasm is empty/],
    "with a wasm that is not WebAssembly": [(d) => writeFileSync(join(d, "pkg/worker_registry_bg.wasm"), "<html>404</html>"), /is not a WebAssembly module/],
    "without the glue": [(d) => rmSync(join(d, "pkg/worker_registry.js")), /worker_registry\.js is missing \(imported by index\.js\)/],
    "without the glue's types": [(d) => rmSync(join(d, "pkg/worker_registry.d.ts")), /worker_registry\.d\.ts is missing/],
    "without the entry": [(d) => rmSync(join(d, "pkg/index.js")), /index\.js is missing/],
    "without the host.js the glue imports": [(d) => rmSync(snippetDir(d), { recursive: true }), /snippets\/worker-registry-[0-9a-f]+\/src\/host\.js is missing \(imported by worker_registry\.js\)/],
    "with wasm-pack's .gitignore of * still in it": [(d) => writeFileSync(join(d, "pkg/.gitignore"), "*\n"), /\.gitignore must not be in the package directory/],
    "with no pkg/ at all": [(d) => rmSync(join(d, "pkg"), { recursive: true }), /pkg does not exist/],
    "when package.json's files leave the wasm out": [(d) => {
      const manifest = JSON.parse(readFileSync(join(d, "package.json"), "utf8"));
      manifest.files = manifest.files.filter((f) => f !== "pkg/").concat("pkg/*.js", "pkg/*.d.ts");
      writeFileSync(join(d, "package.json"), JSON.stringify(manifest, null, 2));
    }, /pkg\/worker_registry_bg\.wasm would not be packed/],
  };
  for (const [what, [breakIt, message]] of Object.entries(broken)) {
    test(`a package ${what} is refused, and no tarball is written`, async () => {
      const result = await packCopy(breakIt);
      assert.equal(result.ok, false, `npm pack succeeded:\n${result.stderr}`);
      assert.match(result.stderr, message);
      assert.deepEqual(result.tarballs, []);
    });
  }
});
