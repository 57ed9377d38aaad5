#!/usr/bin/env bash
# The package's types as a TypeScript user gets them: tests/types/consumer.ts
# uses the whole public API and must type-check with `tsc --noEmit --strict`
# under moduleResolution "bundler" and "node16", resolving "worker-registry"
# through the package's own "exports" against the built pkg/. Its
# `@ts-expect-error` lines must stay errors (tsc fails on an unused one).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f pkg/worker_registry.d.ts ]; then
  echo "types: pkg/ is not built: run 'npm run build' first" >&2
  exit 1
fi
for resolution in bundler node16; do
  node_modules/.bin/tsc --noEmit --strict -p "tests/types/tsconfig.$resolution.json"
  echo "types: tests/types/consumer.ts type-checks (--strict, moduleResolution $resolution, TypeScript $(node_modules/.bin/tsc --version | cut -d' ' -f2))"
done
