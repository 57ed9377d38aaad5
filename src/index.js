// worker-registry: the package entry. The registry itself comes from the
// wasm-bindgen module; the defaults are plain values, usable before init().
export { default, initSync, WorkerRegistry, debugCounts } from "./worker_registry.js";

/** The default allowlist, in panel order. */
export const DEFAULT_KNOWN_WORKERS = Object.freeze([
  "api", "bus", "collector", "profiler", "sniffer",
  "prober", "mutator", "agent", "forwarder", "updater",
]);

/** A beat younger than this many seconds is "ok": three 30 s heartbeats. */
export const DEFAULT_OK_WINDOW_SECONDS = 90;

/** Frames larger than this many bytes are refused as "too_large". */
export const DEFAULT_MAX_FRAME_BYTES = 65536;
