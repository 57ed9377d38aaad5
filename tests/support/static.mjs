// A small static file server for tests and benchmarks: loopback only, and
// cross-origin isolated (COOP/COEP) so performance.now() has full resolution.
import { createServer } from "node:http";
import { once } from "node:events";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/**
 * Serves `mounts` ({"/": dir, "/pkg": dir}) on a free port; resolves to
 * { url, close() }. `routes` maps exact paths to handlers (req, res).
 */
export async function serveStatic(mounts, routes = {}) {
  const entries = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    res.setHeader("Cache-Control", "no-cache");
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (routes[path]) return routes[path](req, res);
    for (const [prefix, dir] of entries) {
      if (path !== prefix && !path.startsWith(prefix === "/" ? "/" : prefix + "/")) continue;
      const rest = normalize(path.slice(prefix === "/" ? 0 : prefix.length)).replace(/^(\.\.[/\\])+/, "");
      let file = join(resolve(dir), rest);
      if (!file.startsWith(resolve(dir))) break;
      try {
        if ((await stat(file)).isDirectory()) file = join(file, "index.html");
        const body = await readFile(file);
        res.setHeader("Content-Type", TYPES[extname(file)] ?? "application/octet-stream");
        return res.end(body);
      } catch {
        break;
      }
    }
    res.statusCode = 404;
    res.end("not found");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
