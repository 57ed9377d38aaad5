#!/usr/bin/env bash
# Builds the npm package's wasm part into pkg/: wasm-pack --release --target
# web, optimised by the wasm-opt of the npm package `binaryen` (Debian's
# binaryen 108 corrupts modules from current rustc), plus the package entry.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/wasm-opt ]; then
  echo "build-pkg: node_modules/.bin/wasm-opt is missing: run 'npm ci' (npm test and npm start do)" >&2
  exit 1
fi
# wasm-pack uses the first wasm-opt on PATH; its own download does not work
# offline, and Debian's is broken for this module.
export PATH="$PWD/node_modules/.bin:$PATH"
echo "build-pkg: wasm-pack build --release --target web (wasm-opt $(wasm-opt --version | head -1))"
wasm-pack --quiet build --release --target web --out-dir pkg --no-pack
cp src/index.js src/index.d.ts pkg/
# wasm-bindgen declares [Symbol.dispose](), which only type-checks with the
# esnext.disposable lib; free() does the same and needs no special lib.
sed -i '/\[Symbol\.dispose\]()/d' pkg/worker_registry.d.ts
# The JS is shipped minified (its documentation lives in the .d.ts files,
# which keep every comment): what a page downloads is what the size budget
# measures.
for js in pkg/worker_registry.js pkg/snippets/*/src/host.js pkg/index.js; do
  esbuild "$js" --minify --format=esm --log-level=warning --outfile="$js" --allow-overwrite
done
# wasm-pack leaves a .gitignore of '*' (which npm pack would honour) and
# package files of its own; the root package.json is the package.
rm -f pkg/.gitignore pkg/package.json pkg/README.md pkg/LICENSE*
gz() { gzip -9c "$@" | wc -c; }
echo "build-pkg: pkg/ ready: wasm $(wc -c < pkg/worker_registry_bg.wasm) bytes ($(gz pkg/worker_registry_bg.wasm) gzipped), JS glue $(gz pkg/worker_registry.js) gzipped, host and entry $(cat pkg/snippets/*/src/host.js pkg/index.js | gz) gzipped"
