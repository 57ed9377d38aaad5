// A TypeScript consumer of the whole public API, as a user's dashboard code
// imports it. tests/types/check.sh type-checks it with `tsc --noEmit --strict`
// under moduleResolution "bundler" and "node16", against the built pkg/ (its
// generated .d.ts files included: skipLibCheck is off) through the package's
// own "exports" map. It is never run.
//
// Each section covers one area of the API. Lines marked `@ts-expect-error`
// are mistakes the types must keep rejecting: tsc fails if one of them stops
// being an error. New API goes in its section, with its mistakes beside it.
import init, {
  DEFAULT_KNOWN_WORKERS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_OK_WINDOW_SECONDS,
  WorkerRegistry,
  debugCounts,
  initSync,
} from "worker-registry";
import type {
  BackoffOptions,
  ChangeReason,
  ConnectOptions,
  ConnectionState,
  ConnectionStatus,
  DebugCounts,
  UpstreamState,
  BeatHistory,
  RegistryClock,
  RegistryStats,
  RejectReason,
  WorkerRegistryOptions,
  WorkerStatus,
} from "worker-registry";
// The .wasm file itself, for bundlers that need its URL given to init()
// (esbuild's file loader); typed by the app's declaration in wasm.d.ts.
import wasmUrl from "worker-registry/worker_registry_bg.wasm";
import "worker-registry/panel";
import { WorkerPanel, bannerFor, formatAgo, formatCountdown, formatSeconds, compactValue } from "worker-registry/panel";
import type { PanelAction, PanelBanner, PanelRegistry, WorkerActionDetail } from "worker-registry/panel";

/** Makes a type check fail unless `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<T extends true>(): T | void {}

export async function consumer(wasmBytes: ArrayBuffer, log: (line: string) => void): Promise<void> {
  // ---- Loading the module -------------------------------------------------
  await init();
  await init({ module_or_path: new URL("worker_registry_bg.wasm", import.meta.url) });
  await init({ module_or_path: fetch("/assets/worker_registry_bg.wasm") });
  await init({ module_or_path: wasmUrl });
  initSync({ module: wasmBytes });
  // (No mistake to reject here: wasm-bindgen's InitInput includes
  // WebAssembly.Module, an empty interface that any value matches.)

  // ---- Defaults: plain values, usable before init() -----------------------
  const names: readonly string[] = DEFAULT_KNOWN_WORKERS;
  assertType<Equal<typeof DEFAULT_KNOWN_WORKERS[0], "api">>();
  const windowSeconds: 90 = DEFAULT_OK_WINDOW_SECONDS;
  const maxBytes: 65536 = DEFAULT_MAX_FRAME_BYTES;
  // @ts-expect-error: the defaults are read-only
  DEFAULT_KNOWN_WORKERS.push("extra");
  log(`${names.length} ${windowSeconds} ${maxBytes}`);

  // ---- The registry and its options ---------------------------------------
  const clock: RegistryClock = { monoMs: () => performance.now(), wallMs: () => Date.now() };
  const options: WorkerRegistryOptions = {
    knownWorkers: ["api", "bus"],
    okWindowSeconds: 90,
    maxFrameBytes: 65536,
    clock,
    historyLength: 30,
    lateFactor: 2,
  };
  const registry = new WorkerRegistry(options);
  const kept: number = registry.historyLength;
  const factor: number = registry.lateFactor;
  log(`${kept} ${factor}`);
  // @ts-expect-error: historyLength is a number of beats
  new WorkerRegistry({ historyLength: "30" });
  new WorkerRegistry();
  new WorkerRegistry({});
  new WorkerRegistry({ knownWorkers: DEFAULT_KNOWN_WORKERS });
  const allowlist: string[] = registry.knownWorkers;
  const okWindow: number = registry.okWindowSeconds;
  const maxFrame: number = registry.maxFrameBytes;
  log(`${allowlist} ${okWindow} ${maxFrame}`);
  // @ts-expect-error: okWindowSeconds is a number of seconds, not a string
  new WorkerRegistry({ okWindowSeconds: "90" });
  // @ts-expect-error: an unknown option is a typo, not a setting
  new WorkerRegistry({ okWindow: 90 });
  // @ts-expect-error: knownWorkers is a list of names
  new WorkerRegistry({ knownWorkers: "api" });
  // @ts-expect-error: a clock needs both monoMs() and wallMs()
  new WorkerRegistry({ clock: { monoMs: () => 0 } });
  // @ts-expect-error: the getters are read-only
  registry.okWindowSeconds = 30;

  // ---- Rows ----------------------------------------------------------------
  const rows: WorkerStatus[] = registry.snapshot();
  for (const row of rows) {
    const name: string = row.name;
    const status: "ok" | "stale" | "unknown" = row.status;
    const ts: number | null = row.last_heartbeat_ts;
    const since: number | null = row.seconds_since;
    const extra: Readonly<Record<string, unknown>> = row.extra;
    log(`${name} ${status} ${ts ?? "never"} ${since ?? "-"} ${Object.keys(extra)}`);
    // @ts-expect-error: the status is one of three words ("late" is not one of them)
    const late: WorkerStatus["status"] = "late";
    // @ts-expect-error: seconds_since may be null: it must be checked first
    const seconds: number = row.seconds_since;
    // @ts-expect-error: extra is read-only (it is deep-frozen)
    row.extra.version = "2";
    log(`${late} ${seconds}`);
  }

  // ---- Frames, beats by hand, and counters ----------------------------------
  const recorded: boolean = registry.ingest('{"topic":"system.api.health","payload":{"ts":1}}');
  registry.ingest(new TextEncoder().encode("{}"));
  registry.record("api", null, { version: "1.0.0" });
  registry.record("api", 1_700_000_000, {});
  const stats: RegistryStats = registry.stats();
  const counts: number[] = [stats.accepted, stats.ignored, stats.superseded];
  const reasons: RejectReason[] = ["too_large", "not_json", "not_object", "unsupported_version", "bad_topic",
    "unknown_worker", "bad_payload", "bad_ts", "bad_age"];
  for (const reason of reasons) counts.push(stats.rejected[reason]);
  log(`${recorded} ${counts}`);
  // @ts-expect-error: a frame is a string or a Uint8Array, not an object
  registry.ingest({ topic: "system.api.health" });
  // @ts-expect-error: ts is seconds or null, not a date string
  registry.record("api", "2026-01-01", {});
  // @ts-expect-error: "late" is not a reason a frame is refused for
  log(`${stats.rejected.late}`);

  // ---- The connection ---------------------------------------------------------
  const connect: ConnectOptions = {
    protocol: "gateway",
    token: "secret",
    backoff: { initialMs: 500, maxMs: 30000 } satisfies BackoffOptions,
    pingIntervalMs: 20000,
    pongTimeoutMs: 10000,
  };
  registry.start("wss://dashboard.example.com/bus", connect);
  registry.start("wss://dashboard.example.com/bus");
  registry.start("wss://nats.example.com", { protocol: "nats", user: "ui", pass: "pw" });
  registry.start("wss://dashboard.example.com/bus", { tokenProvider: async () => "ticket" });
  registry.start("wss://dashboard.example.com/bus", { tokenProvider: () => "ticket" });
  registry.start();
  // A list: gateway replicas or cluster members, tried in turn.
  registry.start(["wss://gw-a.example.com/bus", "wss://gw-b.example.com/bus"], connect);
  registry.start(["wss://nats-1.example.com", "wss://nats-2.example.com"] as const, { protocol: "nats" });
  await registry.stop();
  const conn: ConnectionStatus = registry.connection();
  const state: ConnectionState = conn.state;
  const open: boolean = conn.bus_connected;
  const url: string | null = conn.url;
  const attempts: number = conn.attempts;
  const lastError: string | null = conn.last_error;
  const retryMs: number | null = conn.next_retry_ms;
  const upstream: UpstreamState = conn.upstream;
  const upstreamFor: number | null = conn.upstream_for_s;
  log(`${state} ${open} ${url} ${attempts} ${lastError} ${retryMs} ${upstream} ${upstreamFor}`);
  assertType<Equal<UpstreamState, "up" | "down" | "unknown">>();
  assertType<Equal<ConnectionState, "idle" | "connecting" | "open" | "backoff" | "closed">>();
  // @ts-expect-error: a URL is a string, not a port number
  registry.start(8080);
  // @ts-expect-error: a list holds URLs, not port numbers
  registry.start(["wss://gw-a.example.com/bus", 8080]);
  // @ts-expect-error: the protocol is "gateway" or "nats"
  registry.start("wss://dashboard.example.com/bus", { protocol: "mqtt" });
  // @ts-expect-error: an unknown option is a typo, not a setting
  registry.start("wss://dashboard.example.com/bus", { pingInterval: 20000 });
  // @ts-expect-error: a token provider returns the token, not an object
  registry.start("wss://dashboard.example.com/bus", { tokenProvider: () => ({ token: "t" }) });
  // @ts-expect-error: "late" is not a connection state
  const lateState: ConnectionState = "late";
  log(`${lateState}`);

  // ---- Change notifications -----------------------------------------------------
  const unsubscribe: () => void = registry.onChange((reason: ChangeReason) => {
    if (reason === "beat" || reason === "status" || reason === "connection" || reason === "late") log(reason);
  });
  unsubscribe();
  assertType<Equal<ChangeReason, "beat" | "status" | "connection" | "late">>();

  // ---- History ----------------------------------------------------------------------
  const history: BeatHistory | null = registry.history("api");
  if (history !== null) {
    const ago: number[] = history.beats;
    const cadenceS: number | null = history.cadence_s;
    const late: boolean = history.late;
    log(`${history.name} ${ago} ${cadenceS} ${late}`);
  }
  // @ts-expect-error: history() can be null, for a name not on the allowlist
  registry.history("api").beats;
  // @ts-expect-error: lateness is a cue, never a fourth status
  const lateRow: WorkerStatus["status"] = "late";
  log(`${lateRow}`);
  // @ts-expect-error: the callback receives a reason, not a row
  registry.onChange((row: WorkerStatus) => log(row.name));

  // ---- Clean-up and test helpers -------------------------------------------------
  const live: DebugCounts = debugCounts();
  log(`${live.sockets} ${live.timers} ${live.copies} ${live.copiedBytes}`);
  registry.free();

  // ---- The <worker-panel> element -------------------------------------------------
  const found = document.querySelector("worker-panel");
  const panel: WorkerPanel = found ?? document.createElement("worker-panel");
  const made: WorkerPanel = document.createElement("worker-panel");
  const fromConstructor: HTMLElement = new WorkerPanel();
  panel.registry = new WorkerRegistry();
  panel.registry = null;
  panel.interval = 30;
  panel.interval = null;
  const shown: PanelRegistry | null = panel.registry;
  const cadence: number | null = panel.interval;
  const observed: string[] = WorkerPanel.observedAttributes;
  // Any object with the registry's read side can feed the panel.
  const fake: PanelRegistry = {
    snapshot: () => [],
    connection: () => conn,
    stats: () => stats,
    onChange: () => () => {},
    okWindowSeconds: 90,
  };
  made.registry = fake;
  panel.addEventListener("click", (event: MouseEvent) => log(`${event.button}`));
  // Views, actions and readable extras.
  panel.sort = "problems";
  panel.hideUnknown = true;
  panel.actions = [
    { id: "stop", label: "Stop", when: (row) => row.status === "ok" || row.late },
    { id: "start", label: "Start" },
  ] satisfies PanelAction[];
  panel.bulkActions = [{ id: "start-all", label: "Start all" }];
  panel.formatExtra = (key, value) => (key === "pid" ? `#${String(value)}` : undefined);
  panel.addEventListener("worker-action", (event: CustomEvent<WorkerActionDetail>) => {
    const { action, worker } = event.detail;
    panel.settle(worker, action, { ok: true, message: "done" });
  });
  // @ts-expect-error: sort is "allowlist" or "problems"
  panel.sort = "name";
  // @ts-expect-error: an action needs an id and a label
  panel.actions = [{ label: "Stop" }];
  panel.setAttribute("interval", "30");
  log(`${shown} ${cadence} ${observed} ${fromConstructor.tagName}`);
  // @ts-expect-error: the cadence is a number of seconds
  panel.interval = "30";
  // @ts-expect-error: the panel needs a registry, not its rows
  panel.registry = registry.snapshot();
  // @ts-expect-error: a panel registry needs connection() and stats() too
  panel.registry = { snapshot: () => [], onChange: () => () => {} };

  // ---- The panel's helpers ---------------------------------------------------------
  const ago: string = formatAgo(12) + formatAgo(null);
  const countdown: string = formatCountdown(65);
  const seconds: string = formatSeconds(0.5);
  const chip: string = compactValue({ k: "v" }) + compactValue(1, true);
  const banner: PanelBanner | null = bannerFor(conn, true) ?? bannerFor(null);
  if (banner) {
    const tone: "bad" | "off" = banner.tone;
    const label: PanelBanner["label"] = banner.label;
    log(`${tone} ${label} ${banner.detail}`);
  }
  log(`${ago} ${countdown} ${seconds} ${chip}`);
  // @ts-expect-error: "LATE" is not a banner the panel shows
  const lateBanner: PanelBanner["label"] = "LATE";
  log(`${lateBanner}`);
}
