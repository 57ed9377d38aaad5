export * from "./worker_registry.js";
export { default } from "./worker_registry.js";

/** The default allowlist, in panel order. */
export declare const DEFAULT_KNOWN_WORKERS: readonly [
  "api", "bus", "collector", "profiler", "sniffer",
  "prober", "mutator", "agent", "forwarder", "updater",
];

/** A beat younger than this many seconds is "ok": three 30 s heartbeats. */
export declare const DEFAULT_OK_WINDOW_SECONDS: 90;

/** Frames larger than this many bytes are refused as "too_large". */
export declare const DEFAULT_MAX_FRAME_BYTES: 65536;
