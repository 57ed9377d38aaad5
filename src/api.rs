//! The JavaScript API: the only `#[wasm_bindgen]` surface, `WorkerRegistry`,
//! and the TypeScript declarations of what it takes and returns. It checks
//! arguments and hands them to the shell (`connection.rs`).

use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::connection::Shell;
use crate::frame::Reason;
use crate::options::{self, OptionError};
use crate::registry::{Outcome, Registry};
use crate::socket;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A row of the Workers panel, shaped like the original HTTP API's `WorkerStatus`. */
export interface WorkerStatus {
  name: string;
  status: "ok" | "stale" | "unknown";
  /** `payload.ts` of the freshest beat (or its arrival time); null when unknown. */
  last_heartbeat_ts: number | null;
  /** Seconds since the beat was emitted, measured from its arrival; null when unknown. */
  seconds_since: number | null;
  /** The beat's payload minus `worker` and `ts`; deep-frozen; `{}` when unknown. */
  extra: Readonly<Record<string, unknown>>;
}

/** Why a frame was refused, as counted in `stats().rejected`. */
export type RejectReason =
  | "too_large" | "not_json" | "not_object" | "unsupported_version" | "bad_topic"
  | "unknown_worker" | "bad_payload" | "bad_ts" | "bad_age";

export interface RegistryStats {
  /** Beats recorded. */
  accepted: number;
  /** Events on topics other than `system.<name>.health`. */
  ignored: number;
  /** Beats older than the one already held. */
  superseded: number;
  rejected: Record<RejectReason, number>;
}

/** Both clocks, in milliseconds: a monotonic one and the wall clock. */
export interface RegistryClock {
  monoMs(): number;
  wallMs(): number;
}

export interface WorkerRegistryOptions {
  /** Allowlist, in panel order. Default: DEFAULT_KNOWN_WORKERS. */
  knownWorkers?: readonly string[];
  /** A beat younger than this is "ok". Default 90. */
  okWindowSeconds?: number;
  /** Larger frames are refused as "too_large". Default 65536. */
  maxFrameBytes?: number;
  /** Default: performance.now() and Date.now(). */
  clock?: RegistryClock;
  /** Beats kept per worker for `history()`, a whole number from 1 to 1000. Default 30. */
  historyLength?: number;
  /** An ok row is late once silent for more than this many cadences; greater than 1. Default 2. */
  lateFactor?: number;
}

/** A worker's last beats, as `history(name)` reports them. */
export interface BeatHistory {
  name: string;
  /** Seconds since each beat was emitted, newest first (measured like `seconds_since`); at most `historyLength`. */
  beats: number[];
  /** The median interval between those beats, in seconds; null under 3 beats. */
  cadence_s: number | null;
  /** The row is ok but has been silent for more than `lateFactor` x `cadence_s`. */
  late: boolean;
}

export interface BackoffOptions {
  /** Default 500. */
  initialMs?: number;
  /** Default 30000. */
  maxMs?: number;
}

export interface ConnectOptions {
  /** Default "gateway". */
  protocol?: "gateway" | "nats";
  token?: string;
  /** Called before every connection attempt, for short-lived tickets. */
  tokenProvider?: () => string | Promise<string>;
  /** NATS only. */
  user?: string;
  /** NATS only. */
  pass?: string;
  backoff?: BackoffOptions;
  /** Default 20000. */
  pingIntervalMs?: number;
  /** Default 10000. */
  pongTimeoutMs?: number;
}

export type ConnectionState = "idle" | "connecting" | "open" | "backoff" | "closed";

/** What the gateway last said about its own link to the bus. */
export type UpstreamState = "up" | "down" | "unknown";

export interface ConnectionStatus {
  state: ConnectionState;
  /** Open, and the gateway has not said its bus is down. */
  bus_connected: boolean;
  /** The gateway's link to the bus; "unknown" on NATS, before the gateway says, and while not open. */
  upstream: UpstreamState;
  /** Seconds the upstream has been in its current state; null while unknown. */
  upstream_for_s: number | null;
  /** The URL of the current (or next) attempt. */
  url: string | null;
  /** Failed attempts in a row; 0 once a connection has stayed open 10 s. */
  attempts: number;
  last_error: string | null;
  /** Milliseconds until the next attempt, while in "backoff". */
  next_retry_ms: number | null;
}

export type ChangeReason = "beat" | "status" | "connection" | "late";

/** Live sockets and timers of every registry on the page, and the frames and bytes copied into wasm memory so far (for tests). */
export interface DebugCounts {
  sockets: number;
  timers: number;
  copies: number;
  copiedBytes: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// Declared in the TypeScript section above; an `Option` of these makes
    /// an optional parameter in the `.d.ts`.
    #[wasm_bindgen(typescript_type = "WorkerRegistryOptions")]
    pub type WorkerRegistryOptions;
    #[wasm_bindgen(typescript_type = "ConnectOptions")]
    pub type ConnectOptions;
    #[wasm_bindgen(typescript_type = "string | readonly string[]")]
    pub type Urls;
}

/// A worker health registry: the freshest heartbeat of every allowlisted
/// worker, fed by a bus WebSocket (`start`) or by hand (`ingest`, `record`).
#[wasm_bindgen]
pub struct WorkerRegistry {
    shell: Rc<Shell>,
}

#[wasm_bindgen]
impl WorkerRegistry {
    /// Creates a registry. Throws a `TypeError` or `RangeError` naming the
    /// option and the rule when an option is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(options: Option<WorkerRegistryOptions>) -> Result<WorkerRegistry, JsValue> {
        #[cfg(feature = "console-panic")]
        console_error_panic_hook::set_once();
        let options = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        let (config, clock) = options::registry_options(&options)?;
        let registry = Registry::new(config).map_err(|e| {
            let got = match (e.name(), e.value()) {
                (Some(name), _) => JsValue::from(name),
                (None, Some(v)) => JsValue::from(v),
                _ => JsValue::UNDEFINED,
            };
            let m = e.message();
            if got.is_undefined() {
                OptionError::bare(true, m).into_js()
            } else {
                OptionError::with_value(true, &m, &got).into_js()
            }
        })?;
        // The backoff jitter's seed; the session draws from it afterwards.
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64;
        Ok(WorkerRegistry {
            shell: Shell::new(registry, clock, seed),
        })
    }

    /// Feeds one frame by hand (`string` or `Uint8Array`). Returns true iff
    /// it was recorded as a worker's freshest beat. Never throws: a bad
    /// frame is counted in `stats()` and changes nothing.
    pub fn ingest(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] frame: &JsValue,
    ) -> bool {
        matches!(self.shell.ingest(frame), Outcome::Recorded(_))
    }

    /// Records a beat given by hand. `ts` (seconds), when not null, wins
    /// over `payload.ts`; the allowlist and the payload rules still apply.
    /// Returns true iff recorded.
    pub fn record(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] worker: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | null")] ts: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] payload: &JsValue,
    ) -> bool {
        let refused = |r| self.shell.refuse(Outcome::Rejected(r));
        let outcome = match (worker.as_string(), ts) {
            (None, _) => refused(Reason::UnknownWorker),
            (Some(w), ts) if ts.is_null() || ts.is_undefined() => {
                self.shell.record(&w, None, payload)
            }
            (Some(w), ts) => match ts.as_f64() {
                Some(t) => self.shell.record(&w, Some(t), payload),
                None => refused(Reason::BadTs),
            },
        };
        matches!(outcome, Outcome::Recorded(_))
    }

    /// One row per allowlisted worker, in allowlist order. A new array of
    /// new plain objects on every call.
    #[wasm_bindgen(unchecked_return_type = "WorkerStatus[]")]
    pub fn snapshot(&self) -> Array {
        self.shell.snapshot()
    }

    /// Counters: accepted, ignored, superseded, and refusals by reason.
    #[wasm_bindgen(unchecked_return_type = "RegistryStats")]
    pub fn stats(&self) -> JsValue {
        self.shell
            .with_registry(|r| options::to_js(&options::stats(r.stats())))
    }

    /// The allowlist, in panel order (a copy).
    #[wasm_bindgen(getter, js_name = knownWorkers, unchecked_return_type = "string[]")]
    pub fn known_workers(&self) -> Array {
        self.shell.host.known_workers()
    }

    #[wasm_bindgen(getter, js_name = okWindowSeconds)]
    pub fn ok_window_seconds(&self) -> f64 {
        self.shell.with_registry(|r| r.ok_window_seconds())
    }

    #[wasm_bindgen(getter, js_name = maxFrameBytes)]
    pub fn max_frame_bytes(&self) -> f64 {
        self.shell.with_registry(|r| r.max_frame_bytes() as f64)
    }

    /// Beats kept per worker for `history()`.
    #[wasm_bindgen(getter, js_name = historyLength)]
    pub fn history_length(&self) -> f64 {
        self.shell.with_registry(|r| r.history_length() as f64)
    }

    /// An ok row is late once silent for more than this many cadences.
    #[wasm_bindgen(getter, js_name = lateFactor)]
    pub fn late_factor(&self) -> f64 {
        self.shell.with_registry(|r| r.late_factor())
    }

    /// A worker's last beats (seconds ago, newest first), their median
    /// interval, and whether the worker is late; null for a name not on the
    /// allowlist.
    #[wasm_bindgen(unchecked_return_type = "BeatHistory | null")]
    pub fn history(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: &JsValue,
    ) -> JsValue {
        let Some(name) = name.as_string() else {
            return JsValue::NULL;
        };
        let now = self.shell.now();
        self.shell.with_registry(|r| match r.index_of(&name) {
            Some(i) => options::to_js(&options::history(&name, &r.history(i, now))),
            None => JsValue::NULL,
        })
    }

    /// Calls `callback` with "beat" when a beat is recorded, "status" when a
    /// row turns from ok to stale with no frame arriving, "late" when a row
    /// turns late (from the same timer), and "connection" when the
    /// connection (or the gateway's upstream) changes. Returns a
    /// function that unsubscribes. A listener may call back into the
    /// registry, `stop()` and `start()` included.
    #[wasm_bindgen(js_name = onChange, unchecked_return_type = "() => void")]
    pub fn on_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(reason: ChangeReason) => void")] callback: &JsValue,
    ) -> Result<Function, JsValue> {
        let Some(f) = callback.dyn_ref::<Function>() else {
            return Err(OptionError::with_value(
                false,
                "onChange(callback) needs a function",
                callback,
            )
            .into_js());
        };
        Ok(self.shell.host.subscribe(f))
    }

    /// Connects to a bus gateway (or, with `protocol: "nats"`, a
    /// nats-server WebSocket listener) and keeps the registry fed,
    /// reconnecting with backoff. A list of URLs (gateway replicas, cluster
    /// members) is tried in turn, one per attempt. Without a URL the
    /// registry stays idle. The same URLs and options while running: a
    /// no-op; anything else (another URL, a rotated token) reconnects.
    pub fn start(
        &self,
        urls: Option<Urls>,
        options: Option<ConnectOptions>,
    ) -> Result<(), JsValue> {
        let urls = urls.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        if urls.is_undefined() || urls.is_null() {
            return Ok(());
        }
        let list: Vec<JsValue> = if Array::is_array(&urls) {
            Array::from(&urls).iter().collect()
        } else {
            vec![urls.clone()]
        };
        if list.is_empty() {
            return Err(OptionError::with_value(
                false,
                "start(urls) needs at least one URL",
                &urls,
            )
            .into_js());
        }
        let mut resolved = Vec::with_capacity(list.len());
        for url in &list {
            match self.shell.host.check_url(url).as_string() {
                Some(u) => resolved.push(u),
                None => {
                    return Err(OptionError::with_value(
                        false,
                        "start(url) needs a ws://, wss://, http:// or https:// URL",
                        url,
                    )
                    .into_js())
                }
            }
        }
        let options = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        let (settings, provider) = options::connect_options(&options)?;
        self.shell.start(resolved, settings, provider);
        Ok(())
    }

    /// Closes the socket and cancels every timer; resolves once the socket
    /// has closed. Idempotent. Recorded beats are kept; `start` works again.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn stop(&self) -> js_sys::Promise {
        self.shell.stop()
    }

    /// The connection's state, for a banner such as "RECONNECTING in 3s".
    #[wasm_bindgen(unchecked_return_type = "ConnectionStatus")]
    pub fn connection(&self) -> JsValue {
        self.shell.connection()
    }
}

/// Sockets and timers alive on the page, across all registries, and the
/// frames copied into wasm memory: for tests that check `stop()` and
/// `free()` leave nothing behind, and that a refused frame was never copied.
#[wasm_bindgen(js_name = debugCounts, unchecked_return_type = "DebugCounts")]
pub fn debug_counts() -> JsValue {
    let (sockets, timers) = socket::live_counts();
    let copies = crate::host::copy_counts();
    let o = Object::new();
    let _ = Reflect::set(&o, &"sockets".into(), &sockets.into());
    let _ = Reflect::set(&o, &"timers".into(), &timers.into());
    let _ = Reflect::set(&o, &"copies".into(), &copies.get(0));
    let _ = Reflect::set(&o, &"copiedBytes".into(), &copies.get(1));
    o.into()
}
