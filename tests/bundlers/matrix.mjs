// The bundler matrix: the npm package as users install it. Each app under
// tests/bundlers/<bundler>/ is a fresh project with its own lock file pinning
// its bundler; it gets the tarball of `npm pack` (the real package, not a
// link to the repo), builds in production mode with `npm run build`, and
// leaves a complete static site in dist/. Used by bundlers.test.mjs (which
// loads every site in Chromium) and by bench/run.mjs (bundle sizes).
import { execFile } from "node:child_process";
import { cpSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { ROOT } from "../support/procs.mjs";

const run = promisify(execFile);
export const APPS = join(ROOT, "tests/bundlers");

/**
 * The bundlers, each with the package that is its bundler (whose version the
 * app's lock file pins) and what its README entry says it needs.
 */
export const BUNDLERS = {
  vite: { label: "Vite", bundler: "vite" },
  webpack: { label: "webpack 5", bundler: "webpack" },
  rollup: { label: "Rollup 4", bundler: "rollup" },
  esbuild: { label: "esbuild", bundler: "esbuild" },
};

/** Runs a command; on failure the error carries its whole output. */
export async function sh(cmd, args, cwd, timeout = 300000) {
  try {
    return await run(cmd, args, { cwd, maxBuffer: 64 << 20, timeout });
  } catch (error) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${error.stdout ?? ""}\n${error.stderr ?? error.message}`);
  }
}

const seconds = (start) => Number(((Date.now() - start) / 1000).toFixed(1));

/** A new temporary directory for one run of the matrix. */
export function workDir() {
  return mkdtempSync(join(tmpdir(), "wr-bundlers-"));
}

/**
 * `npm pack` at the repo root (prepack builds pkg/ and checks it) into
 * `work`; resolves to { tarball, files (without the "package/" prefix), seconds }.
 */
export async function pack(work) {
  const start = Date.now();
  const { stdout, stderr } = await sh("npm", ["pack", "--pack-destination", work], ROOT);
  const names = readdirSync(work).filter((f) => f.endsWith(".tgz"));
  if (names.length !== 1) throw new Error(`npm pack left ${names.length} tarballs in ${work}:\n${stdout}\n${stderr}`);
  const tarball = join(work, names[0]);
  const listed = (await sh("tar", ["-tzf", tarball], work)).stdout.split("\n").filter(Boolean);
  return { tarball, files: listed.map((f) => f.replace(/^package\//, "")).sort(), seconds: seconds(start) };
}

/**
 * Copies the app `name` into `work/name` and installs its locked
 * dependencies plus the tarball. Resolves to { dir, installSeconds, bundlerVersion, pinned }.
 */
export async function install(name, tarball, work) {
  const fixture = join(APPS, name);
  const dir = join(work, name);
  cpSync(fixture, dir, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|dist[^/\\]*)([/\\]|$)/.test(src.slice(fixture.length)),
  });
  const start = Date.now();
  // The lock file keeps the bundler at its pinned version; the tarball is
  // added as a user adds a package (npm install FILE.tgz copies it in).
  await sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], dir);
  const { bundler } = BUNDLERS[name];
  const pinned = JSON.parse(readFileSync(join(fixture, "package.json"), "utf8")).devDependencies[bundler];
  const bundlerVersion = JSON.parse(readFileSync(join(dir, "node_modules", bundler, "package.json"), "utf8")).version;
  const installed = join(dir, "node_modules/worker-registry");
  return {
    dir,
    installSeconds: seconds(start),
    bundlerVersion,
    pinned,
    isLink: lstatSync(installed).isSymbolicLink(),
  };
}

/** `npm run build` in an installed app; resolves to { dist, buildSeconds }. */
export async function build(dir) {
  const start = Date.now();
  await sh("npm", ["run", "--silent", "build"], dir);
  return { dist: join(dir, "dist"), buildSeconds: seconds(start) };
}

/** Every file under `dir`, relative to it. */
export function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

/**
 * What a page downloads from a built site: its JavaScript and its wasm,
 * raw and gzipped (level 9), and the emitted .wasm files.
 */
export function bundleSizes(dist) {
  const files = filesUnder(dist);
  const read = (f) => readFileSync(join(dist, f));
  const total = (list) => {
    const raw = list.reduce((n, f) => n + read(f).length, 0);
    const gzip = gzipSync(Buffer.concat(list.map(read)), { level: 9 }).length;
    return { raw, gzip, files: list };
  };
  const js = files.filter((f) => /\.m?js$/.test(f));
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  return { js: total(js), wasm: total(wasm), jsFiles: js.map((f) => ({ file: f, gzip: gzipSync(read(f), { level: 9 }).length })) };
}

/** Packs once and builds every app (or those named); for the benchmark's size table. */
export async function measureBundles(names = Object.keys(BUNDLERS), log = () => {}) {
  const work = workDir();
  try {
    const { tarball } = await pack(work);
    log(`packed ${tarball}`);
    const out = {};
    const installs = await Promise.all(names.map((name) => install(name, tarball, work)));
    for (const [i, name] of names.entries()) {
      const { dist } = await build(installs[i].dir);
      const sizes = bundleSizes(dist);
      out[name] = { bundler: BUNDLERS[name].bundler, version: installs[i].bundlerVersion, js: sizes.js, wasm: sizes.wasm };
      log(`${name} ${installs[i].bundlerVersion}: JS ${sizes.js.gzip} B gzip, wasm ${sizes.wasm.gzip} B gzip`);
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
