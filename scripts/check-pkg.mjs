// Refuses an incomplete npm package. Used twice: by scripts/build-pkg.sh on
// its temporary build before swapping it into pkg/, and by `prepack` (with
// --packlist) after the build, on the list of files npm is about to pack.
//
//   node scripts/check-pkg.mjs [DIR]        DIR (default pkg/) is a complete build
//   node scripts/check-pkg.mjs --packlist   and npm would pack all of it
//
// A complete build has the wasm module (with its magic number), the
// wasm-bindgen glue and its types, every file the glue imports (the host.js
// snippet), and the package entry with its types; and nothing that would
// change what npm packs (wasm-pack's `.gitignore` of `*`, its package.json).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Files every build must have, relative to the build directory. */
export const REQUIRED = [
  "worker_registry_bg.wasm",
  "worker_registry.js",
  "worker_registry.d.ts",
  "index.js",
  "index.d.ts",
];
/** Files that must not be in a build: npm would honour or ship them. */
export const FORBIDDEN = [".gitignore", ".npmignore", "package.json"];
/** Files of the package outside pkg/. */
export const OTHER_FILES = ["package.json", "README.md", "LICENSE", "www/worker-panel.js", "www/worker-panel.d.ts"];

/** Relative module specifiers imported or re-exported by a (possibly minified) ES module. */
export function relativeImports(code) {
  const specs = new Set();
  for (const m of code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.\.?\/[^"']+)["']/g)) specs.add(m[1]);
  return [...specs];
}

/** All files under `dir`, as posix paths relative to it. */
export function listFiles(dir, base = dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path, base));
    else out.push(relative(base, path).split("\\").join("/"));
  }
  return out.sort();
}

/** What is wrong with the build in `dir`: a list of sentences, empty when complete. */
export function problems(dir) {
  if (!existsSync(dir)) return [`${dir} does not exist`];
  const found = [];
  const file = (name) => join(dir, name);
  for (const name of REQUIRED) {
    if (!existsSync(file(name))) found.push(`${name} is missing`);
    else if (statSync(file(name)).size === 0) found.push(`${name} is empty`);
  }
  for (const name of FORBIDDEN) {
    if (existsSync(file(name))) found.push(`${name} must not be in the package directory (npm would honour or ship it)`);
  }
  if (!found.some((p) => p.startsWith("worker_registry_bg.wasm"))) {
    const magic = readFileSync(file("worker_registry_bg.wasm")).subarray(0, 4);
    if (!magic.equals(Buffer.from([0, 0x61, 0x73, 0x6d]))) found.push("worker_registry_bg.wasm is not a WebAssembly module");
  }
  // Every module the JS files import must be there: the glue imports the
  // host.js snippet, the entry imports the glue.
  for (const js of listFiles(dir).filter((f) => f.endsWith(".js"))) {
    if (statSync(file(js)).size === 0) continue;
    for (const spec of relativeImports(readFileSync(file(js), "utf8"))) {
      const target = posix.normalize(posix.join(posix.dirname(js), spec));
      if (!existsSync(file(target))) found.push(`${target} is missing (imported by ${js})`);
    }
  }
  if (existsSync(file("worker_registry.js")) && !readFileSync(file("worker_registry.js"), "utf8").includes("worker_registry_bg.wasm")) {
    found.push("worker_registry.js does not load worker_registry_bg.wasm");
  }
  return found;
}

/** The files `npm pack` would pack now (scripts not run), relative to the package root. */
export function packList(root = ROOT) {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out)[0].files.map((f) => f.path).sort();
}

/** What is missing from npm's pack list: everything in pkg/ and the other package files. */
export function packListProblems(root = ROOT, list = packList(root)) {
  const packed = new Set(list);
  const wanted = [...listFiles(join(root, "pkg")).map((f) => `pkg/${f}`), ...OTHER_FILES];
  return wanted.filter((f) => !packed.has(f)).map((f) => `${f} would not be packed`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const packlist = args.includes("--packlist");
  const dir = resolve(args.find((a) => !a.startsWith("--")) ?? join(ROOT, "pkg"));
  let found = problems(dir);
  if (!found.length && packlist) found = packListProblems(resolve(dir, ".."));
  if (found.length) {
    console.error(`check-pkg: refusing the package in ${dir}:\n${found.map((p) => `  - ${p}`).join("\n")}\n` +
      "check-pkg: build it with 'npm run build' (scripts/build-pkg.sh)");
    process.exit(1);
  }
  console.error(`check-pkg: ${relative(process.cwd(), dir) || "."} is complete${packlist ? " and npm packs all of it" : ""}`);
}
