// Rollup 4 for a page that uses worker-registry: node-resolve finds the
// package (and its "exports"), importMetaAssets emits the .wasm file that the
// glue loads with `new URL(..., import.meta.url)`. terser only minifies.
import { nodeResolve } from "@rollup/plugin-node-resolve";
import { importMetaAssets } from "@web/rollup-plugin-import-meta-assets";
import terser from "@rollup/plugin-terser";

export default {
  input: "main.js",
  output: { dir: "dist", format: "es" },
  plugins: [nodeResolve(), importMetaAssets(), terser()],
};
