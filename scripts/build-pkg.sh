#!/usr/bin/env bash
# Builds the npm package's wasm part into pkg/: wasm-pack --release --target
# web, optimised by the wasm-opt of the npm package `binaryen` (Debian's
# binaryen 108 corrupts modules from current rustc), plus the package entry.
#
# The build is atomic: everything is built in a temporary directory next to
# pkg/, checked by scripts/check-pkg.mjs, and only then swapped into pkg/, so
# pkg/ is at every moment either the previous complete build or the new one
# (never wasm-pack's half-written output, whose `.gitignore` of `*` npm pack
# would honour). Concurrent builds wait for each other.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/wasm-opt ]; then
  echo "build-pkg: node_modules/.bin/wasm-opt is missing: run 'npm ci' (npm test and npm start do)" >&2
  exit 1
fi
# wasm-pack uses the first wasm-opt on PATH; its own download does not work
# offline, and Debian's is broken for this module.
export PATH="$PWD/node_modules/.bin:$PATH"

mkdir -p target
if command -v flock >/dev/null; then
  exec 9>target/.build-pkg.lock
  flock 9
fi
tmp=$(mktemp -d "$PWD/target/pkg-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "build-pkg: wasm-pack build --release --target web (wasm-opt $(wasm-opt --version | head -1))"
wasm-pack --quiet build --release --target web --out-dir "$tmp" --no-pack
cp src/index.js src/index.d.ts "$tmp/"
# wasm-bindgen declares [Symbol.dispose](), which only type-checks with the
# esnext.disposable lib; free() does the same and needs no special lib
# (tests/types/ type-checks the result without that lib).
sed -i '/\[Symbol\.dispose\]()/d' "$tmp/worker_registry.d.ts"
# The JS is shipped minified (its documentation lives in the .d.ts files,
# which keep every comment): what a page downloads is what the size budget
# measures.
for js in "$tmp"/worker_registry.js "$tmp"/snippets/*/src/host.js "$tmp"/index.js; do
  esbuild "$js" --minify --format=esm --log-level=warning --outfile="$js" --allow-overwrite
done
# wasm-pack leaves a .gitignore of '*' (which npm pack would honour) and
# package files of its own; the root package.json is the package.
rm -f "$tmp/.gitignore" "$tmp/package.json" "$tmp/README.md" "$tmp"/LICENSE*
node scripts/check-pkg.mjs "$tmp"
chmod 755 "$tmp"

# The swap: one renameat2(RENAME_EXCHANGE) where the system has it (Linux),
# else two renames, a window of microseconds in which pkg/ is absent (and
# prepack's check refuses to pack).
exchange() {
  python3 - "$1" "$2" 2>/dev/null <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
sys.exit(0 if libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), RENAME_EXCHANGE) == 0 else 1)
PY
}
if [ ! -e pkg ]; then
  mv "$tmp" pkg
elif ! exchange "$tmp" pkg; then
  mv pkg "$tmp.old"
  mv "$tmp" pkg
  mv "$tmp.old" "$tmp"
fi
# $tmp now holds the previous build, removed on exit.

gz() { gzip -9c "$@" | wc -c; }
echo "build-pkg: pkg/ ready: wasm $(wc -c < pkg/worker_registry_bg.wasm) bytes ($(gz pkg/worker_registry_bg.wasm) gzipped), JS glue $(gz pkg/worker_registry.js) gzipped, host and entry $(cat pkg/snippets/*/src/host.js pkg/index.js | gz) gzipped"
