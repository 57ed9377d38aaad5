// A dashboard as a user of the npm package writes it, bundled by Vite with no
// configuration: Vite emits the .wasm file by itself from the glue's
// `new URL("worker_registry_bg.wasm", import.meta.url)`.
import init, { WorkerRegistry, DEFAULT_KNOWN_WORKERS } from "worker-registry";
import "worker-registry/panel";

async function main() {
  await init();
  const registry = new WorkerRegistry({ knownWorkers: [...DEFAULT_KNOWN_WORKERS] });
  // No bus here: one beat recorded by hand shows the wasm side works.
  registry.record("api", null, { version: "1.0.0" });
  document.querySelector("worker-panel").registry = registry;
}

main().then(
  () => { document.body.dataset.ready = "yes"; },
  (error) => { document.body.dataset.ready = `error: ${error}`; throw error; },
);
