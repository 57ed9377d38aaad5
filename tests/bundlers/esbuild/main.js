// A dashboard as a user of the npm package writes it, bundled by esbuild.
// esbuild leaves the glue's `new URL("worker_registry_bg.wasm",
// import.meta.url)` alone, so nothing would emit the .wasm file. Importing it
// instead, with the `file` loader for .wasm (`--loader:.wasm=file`), makes
// esbuild copy it into the output and hand back its URL, which init() takes.
import init, { WorkerRegistry, DEFAULT_KNOWN_WORKERS } from "worker-registry";
import wasmUrl from "worker-registry/worker_registry_bg.wasm";
import "worker-registry/panel";

async function main() {
  await init({ module_or_path: wasmUrl });
  const registry = new WorkerRegistry({ knownWorkers: [...DEFAULT_KNOWN_WORKERS] });
  // No bus here: one beat recorded by hand shows the wasm side works.
  registry.record("api", null, { version: "1.0.0" });
  document.querySelector("worker-panel").registry = registry;
}

main().then(
  () => { document.body.dataset.ready = "yes"; },
  (error) => { document.body.dataset.ready = `error: ${error}`; throw error; },
);
