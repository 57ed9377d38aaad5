//! The JavaScript API: the only `#[wasm_bindgen]` surface. It parses options,
//! owns the browser-side state (buffers, timers, the connection), and turns
//! results into JS values through the small JS half in `host.js`.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::clock::{Clock, Instant};
use crate::connection::Connection;
use crate::frame::Reason;
use crate::registry::{self, Config, Outcome, Registry, Status, MAX_MAX_FRAME_BYTES};
use crate::socket::{self, Timer};

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

export interface ConnectionStatus {
  state: ConnectionState;
  bus_connected: boolean;
  url: string | null;
  /** Failed attempts in a row; 0 once a connection has stayed open 10 s. */
  attempts: number;
  last_error: string | null;
  /** Milliseconds until the next attempt, while in "backoff". */
  next_retry_ms: number | null;
}

export type ChangeReason = "beat" | "status" | "connection" | "late";

/** Live sockets and timers of every registry on the page (for tests). */
export interface DebugCounts {
  sockets: number;
  timers: number;
}
"#;

#[wasm_bindgen(module = "/src/host.js")]
extern "C" {
    pub(crate) type Host;

    #[wasm_bindgen(constructor)]
    fn new(memory: &JsValue, names: &Array, clock: &JsValue) -> Host;
    #[wasm_bindgen(method)]
    fn bind(this: &Host, frame_ptr: u32, frame_cap: u32, num_ptr: u32, num_len: u32);
    #[wasm_bindgen(method)]
    pub(crate) fn load(this: &Host, frame: &JsValue, max: u32, probe: bool) -> i32;
    #[wasm_bindgen(method, js_name = loadPayload)]
    fn load_payload(this: &Host, payload: &JsValue, max: u32) -> i32;
    #[wasm_bindgen(method)]
    fn mono(this: &Host) -> f64;
    #[wasm_bindgen(method)]
    fn wall(this: &Host) -> f64;
    #[wasm_bindgen(method, js_name = setExtra)]
    fn set_extra(this: &Host, index: u32, len: u32);
    #[wasm_bindgen(method)]
    fn rows(this: &Host, n: u32) -> Array;
    #[wasm_bindgen(method)]
    fn stats(this: &Host) -> JsValue;
    #[wasm_bindgen(method)]
    fn history(this: &Host, index: u32, beats: &[f64], cadence: f64, late: bool) -> JsValue;
    #[wasm_bindgen(method)]
    pub(crate) fn connection(
        this: &Host,
        url: Option<String>,
        last_error: Option<String>,
    ) -> JsValue;
    #[wasm_bindgen(method, js_name = knownWorkers)]
    fn known_workers(this: &Host) -> Array;
    #[wasm_bindgen(method)]
    fn subscribe(this: &Host, callback: &Function) -> Function;
    #[wasm_bindgen(method)]
    pub(crate) fn emit(this: &Host, code: u32);
    #[wasm_bindgen(method)]
    fn clear(this: &Host);
    #[wasm_bindgen(method, js_name = fetchToken)]
    pub(crate) fn fetch_token(this: &Host, provider: &Function, generation: u32, done: &Function);
    #[wasm_bindgen(method, js_name = checkUrl)]
    fn check_url(this: &Host, url: &str) -> JsValue;
    #[wasm_bindgen(method, js_name = closeAndWait)]
    pub(crate) fn close_and_wait(this: &Host, ws: &JsValue, timeout_ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = optionError)]
    pub(crate) fn option_error(range: bool, message: &str, got: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = registryOptions, catch)]
    fn registry_options(
        options: &JsValue,
        window: f64,
        max_frame: f64,
        largest_frame: f64,
    ) -> Result<Array, JsValue>;
    #[wasm_bindgen(js_name = connectOptions, catch)]
    pub(crate) fn connect_options(options: &JsValue, defaults: &[f64]) -> Result<Array, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    /// Declared in the TypeScript section above; an `Option` of these makes
    /// an optional parameter in the `.d.ts`.
    #[wasm_bindgen(typescript_type = "WorkerRegistryOptions")]
    pub type WorkerRegistryOptions;
    #[wasm_bindgen(typescript_type = "ConnectOptions")]
    pub type ConnectOptions;
}

/// `onChange` reasons, as the host numbers them.
pub(crate) const CHANGE_BEAT: u32 = 0;
pub(crate) const CHANGE_STATUS: u32 = 1;
pub(crate) const CHANGE_CONNECTION: u32 = 2;
pub(crate) const CHANGE_LATE: u32 = 3;

/// Reads the host's clocks (the `clock` option, or the browser's).
pub(crate) struct HostClock<'a>(pub(crate) &'a Host);

impl Clock for HostClock<'_> {
    fn now(&self) -> Instant {
        Instant {
            mono_ms: self.0.mono(),
            wall_ms: self.0.wall(),
        }
    }
}

/// Everything a registry owns. Timers and socket closures hold a `Weak` to
/// it, so dropping the registry (`free()`) drops them all.
pub(crate) struct Inner {
    pub(crate) host: Host,
    pub(crate) core: RefCell<Registry>,
    /// Frames are copied here by the host: 3 bytes per allowed UTF-16 unit.
    frame: RefCell<Vec<u8>>,
    /// Numbers the host reads rows, stats and connection state from.
    nums: RefCell<Vec<f64>>,
    /// The `extra` version the host holds for each row.
    pushed: RefCell<Vec<u32>>,
    /// The status timer and the monotonic instant it is armed for.
    status_timer: RefCell<Option<(Timer, f64)>>,
    pub(crate) conn: RefCell<Connection>,
}

impl Inner {
    pub(crate) fn now(&self) -> Instant {
        HostClock(&self.host).now()
    }

    pub(crate) fn frame_capacity(&self) -> u32 {
        self.frame.borrow().len() as u32
    }

    /// Copies a frame (string or bytes) into wasm memory, refusing one over
    /// `max` bytes (`max` UTF-16 units for a string) before copying. With
    /// `probe`, a string on another topic is judged without being copied.
    /// Returns the byte length, or what became of the frame instead.
    pub(crate) fn load(&self, data: &JsValue, max: u32, probe: bool) -> Result<usize, Outcome> {
        match self.host.load(data, max, probe) {
            n if n >= 0 => Ok(n as usize),
            -1 => Err(Outcome::Rejected(Reason::TooLarge)),
            -4 => Err(Outcome::Ignored),
            _ => Err(Outcome::Rejected(Reason::NotJson)),
        }
    }

    /// Runs `f` on the frame just loaded.
    pub(crate) fn with_frame<T>(&self, len: usize, f: impl FnOnce(&[u8]) -> T) -> T {
        let frame = self.frame.borrow();
        f(&frame[..len.min(frame.len())])
    }

    /// One gateway frame through the registry.
    pub(crate) fn ingest_value(&self, data: &JsValue) -> Outcome {
        let max = self.core.borrow().max_frame_bytes() as u32;
        match self.load(data, max, true) {
            Ok(len) => {
                let clock = HostClock(&self.host);
                self.with_frame(len, |bytes| self.core.borrow_mut().ingest(bytes, &clock))
            }
            Err(outcome) => self.core.borrow_mut().count(outcome),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Listeners are released, and a token answer arriving later finds
        // nothing to call.
        self.host.clear();
    }
}

/// What to do after a frame was handled: tell listeners of a new beat and
/// make sure the status timer covers the row's next turn, late or stale.
pub(crate) fn after(inner: &Rc<Inner>, outcome: Outcome) {
    if let Outcome::Recorded(index) = outcome {
        let due = inner.core.borrow().due_at_mono(index);
        if let Some(due) = due {
            let armed = inner.status_timer.borrow().as_ref().map(|(_, at)| *at);
            // The armed timer stays right unless this row is now due sooner
            // (a retained beat arriving already aged, or a cadence that
            // shrank and brought its late moment forward).
            if armed.is_none_or(|at| due < at) {
                arm_status_timer(inner, due, inner.now().mono_ms);
            }
        }
        inner.host.emit(CHANGE_BEAT);
    }
}

fn arm_status_timer(inner: &Rc<Inner>, due_mono: f64, now_mono: f64) {
    let weak = Rc::downgrade(inner);
    // One millisecond late rather than early: at the deadline itself the row
    // is stale (the window is exclusive).
    let timer = Timer::once(due_mono - now_mono + 1.0, move || on_status_timer(&weak));
    *inner.status_timer.borrow_mut() = Some((timer, due_mono));
}

fn on_status_timer(weak: &Weak<Inner>) {
    let Some(inner) = weak.upgrade() else { return };
    let fired = inner.status_timer.borrow_mut().take();
    let now = inner.now();
    let (turned, next) = {
        let mut core = inner.core.borrow_mut();
        (core.expire(now), core.next_expiry_ms(now))
    };
    if let Some(ms) = next {
        arm_status_timer(&inner, now.mono_ms + ms, now.mono_ms);
    }
    drop(fired);
    if turned.stale {
        inner.host.emit(CHANGE_STATUS);
    }
    if turned.late {
        inner.host.emit(CHANGE_LATE);
    }
}

/// Cancels the status timer (`stop()`); the next beat arms it again.
pub(crate) fn cancel_status_timer(inner: &Inner) {
    inner.status_timer.borrow_mut().take();
}

/// A worker health registry: the freshest heartbeat of every allowlisted
/// worker, fed by a bus WebSocket (`start`) or by hand (`ingest`, `record`).
#[wasm_bindgen]
pub struct WorkerRegistry {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl WorkerRegistry {
    /// Creates a registry. Throws a `TypeError` or `RangeError` naming the
    /// option and the rule when an option is invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(options: Option<WorkerRegistryOptions>) -> Result<WorkerRegistry, JsValue> {
        let (config, clock) = parse_options(options.as_ref().map(|o| o.as_ref()))?;
        let n = config.known_workers.len();
        let frame_cap = config.max_frame_bytes * 3;
        let core = Registry::new(config).map_err(|e| {
            let got = match (e.name(), e.value()) {
                (Some(name), _) => JsValue::from(name),
                (None, Some(v)) => JsValue::from(v),
                _ => JsValue::UNDEFINED,
            };
            option_error(true, &e.message(), &got)
        })?;
        let names: Array = core
            .names()
            .iter()
            .map(|s| JsValue::from(s.as_str()))
            .collect();
        let host = Host::new(&wasm_bindgen::memory(), &names, &clock);
        let frame = vec![0u8; frame_cap];
        let nums = vec![0f64; (3 * n).max(12)];
        host.bind(
            frame.as_ptr() as u32,
            frame.len() as u32,
            nums.as_ptr() as u32,
            nums.len() as u32,
        );
        let inner = Rc::new(Inner {
            host,
            core: RefCell::new(core),
            frame: RefCell::new(frame),
            nums: RefCell::new(nums),
            pushed: RefCell::new(vec![0; n]),
            status_timer: RefCell::new(None),
            conn: RefCell::new(Connection::new()),
        });
        Ok(WorkerRegistry { inner })
    }

    /// Feeds one frame by hand (`string` or `Uint8Array`). Returns true iff
    /// it was recorded as a worker's freshest beat. Never throws: a bad
    /// frame is counted in `stats()` and changes nothing.
    pub fn ingest(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] frame: &JsValue,
    ) -> bool {
        let outcome = self.inner.ingest_value(frame);
        after(&self.inner, outcome);
        matches!(outcome, Outcome::Recorded(_))
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
        let outcome = self.record_inner(worker, ts, payload);
        after(&self.inner, outcome);
        matches!(outcome, Outcome::Recorded(_))
    }

    fn record_inner(&self, worker: &JsValue, ts: &JsValue, payload: &JsValue) -> Outcome {
        let inner = &self.inner;
        let reject = |r| inner.core.borrow_mut().count(Outcome::Rejected(r));
        let Some(worker) = worker.as_string() else {
            return reject(Reason::UnknownWorker);
        };
        let ts = if ts.is_null() || ts.is_undefined() {
            None
        } else {
            match ts.as_f64() {
                Some(t) => Some(t),
                None => return reject(Reason::BadTs),
            }
        };
        let max = inner.core.borrow().max_frame_bytes() as u32;
        let len = match inner.host.load_payload(payload, max) {
            n if n >= 0 => n as usize,
            -1 => return reject(Reason::TooLarge),
            _ => return reject(Reason::BadPayload),
        };
        let clock = HostClock(&inner.host);
        inner.with_frame(len, |bytes| {
            inner.core.borrow_mut().record(&worker, ts, bytes, &clock)
        })
    }

    /// One row per allowlisted worker, in allowlist order. A new array of
    /// new plain objects on every call.
    #[wasm_bindgen(unchecked_return_type = "WorkerStatus[]")]
    pub fn snapshot(&self) -> Array {
        let inner = &self.inner;
        let now = inner.now();
        let mut stale_extras = Vec::new();
        let n = {
            let core = inner.core.borrow();
            let mut nums = inner.nums.borrow_mut();
            let pushed = inner.pushed.borrow();
            for (i, row) in core.rows(now).enumerate() {
                let k = 3 * i;
                nums[k] = match row.status {
                    Status::Unknown => 0.0,
                    Status::Ok => 1.0,
                    Status::Stale => 2.0,
                };
                nums[k + 1] = row.last_heartbeat_ts.unwrap_or(0.0);
                nums[k + 2] = row.seconds_since.unwrap_or(0.0);
                if core.version(i) != pushed[i] {
                    stale_extras.push(i);
                }
            }
            core.names().len()
        };
        // Only rows whose beat changed since the last snapshot are parsed
        // again; every other row reuses its frozen `extra`.
        for i in stale_extras {
            let (len, version) = {
                let core = inner.core.borrow();
                let extra = core.extra(i);
                inner.frame.borrow_mut()[..extra.len()].copy_from_slice(extra);
                (extra.len(), core.version(i))
            };
            inner.host.set_extra(i as u32, len as u32);
            inner.pushed.borrow_mut()[i] = version;
        }
        inner.host.rows(n as u32)
    }

    /// Counters: accepted, ignored, superseded, and refusals by reason.
    #[wasm_bindgen(unchecked_return_type = "RegistryStats")]
    pub fn stats(&self) -> JsValue {
        {
            let core = self.inner.core.borrow();
            let s = core.stats();
            let mut nums = self.inner.nums.borrow_mut();
            nums[0] = s.accepted as f64;
            nums[1] = s.ignored as f64;
            nums[2] = s.superseded as f64;
            for (i, n) in s.rejected.iter().enumerate() {
                nums[3 + i] = *n as f64;
            }
        }
        self.inner.host.stats()
    }

    /// The allowlist, in panel order (a copy).
    #[wasm_bindgen(getter, js_name = knownWorkers, unchecked_return_type = "string[]")]
    pub fn known_workers(&self) -> Array {
        self.inner.host.known_workers()
    }

    #[wasm_bindgen(getter, js_name = okWindowSeconds)]
    pub fn ok_window_seconds(&self) -> f64 {
        self.inner.core.borrow().ok_window_seconds()
    }

    #[wasm_bindgen(getter, js_name = maxFrameBytes)]
    pub fn max_frame_bytes(&self) -> f64 {
        self.inner.core.borrow().max_frame_bytes() as f64
    }

    /// Beats kept per worker for `history()`.
    #[wasm_bindgen(getter, js_name = historyLength)]
    pub fn history_length(&self) -> f64 {
        self.inner.core.borrow().history_length() as f64
    }

    /// An ok row is late once silent for more than this many cadences.
    #[wasm_bindgen(getter, js_name = lateFactor)]
    pub fn late_factor(&self) -> f64 {
        self.inner.core.borrow().late_factor()
    }

    /// A worker's last beats (seconds ago, newest first), their median
    /// interval, and whether the worker is late; null for a name not on
    /// the allowlist.
    #[wasm_bindgen(unchecked_return_type = "BeatHistory | null")]
    pub fn history(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: &JsValue,
    ) -> JsValue {
        let inner = &self.inner;
        let core = inner.core.borrow();
        let Some(index) = name.as_string().and_then(|n| core.index_of(&n)) else {
            return JsValue::NULL;
        };
        let h = core.history(index, inner.now());
        inner.host.history(
            index as u32,
            &h.beats,
            h.cadence_s.unwrap_or(f64::NAN),
            h.late,
        )
    }

    /// Calls `callback` with "beat" when a beat is recorded, "status" when a
    /// row turns from ok to stale with no frame arriving, "late" when a row
    /// turns late (from the same timer), and "connection" when the
    /// connection changes. Returns a function that unsubscribes.
    #[wasm_bindgen(js_name = onChange, unchecked_return_type = "() => void")]
    pub fn on_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(reason: ChangeReason) => void")] callback: &JsValue,
    ) -> Result<Function, JsValue> {
        let Some(f) = callback.dyn_ref::<Function>() else {
            return Err(option_error(
                false,
                "onChange(callback) needs a function",
                callback,
            ));
        };
        Ok(self.inner.host.subscribe(f))
    }

    /// Connects to a bus gateway (or, with `protocol: "nats"`, a
    /// nats-server WebSocket listener) and keeps the registry fed,
    /// reconnecting with backoff. Without a URL the registry stays idle.
    /// Idempotent for the same URL; another URL switches to it.
    pub fn start(
        &self,
        url: Option<String>,
        options: Option<ConnectOptions>,
    ) -> Result<(), JsValue> {
        let Some(url) = url else { return Ok(()) };
        let url = match self.inner.host.check_url(&url).as_string() {
            Some(resolved) => resolved,
            None => {
                return Err(option_error(
                    false,
                    "start(url) needs a ws://, wss://, http:// or https:// URL",
                    &JsValue::from(url),
                ))
            }
        };
        let settings =
            crate::connection::parse_connect_options(options.as_ref().map(|o| o.as_ref()))?;
        crate::connection::start(&self.inner, url, settings);
        Ok(())
    }

    /// Closes the socket and cancels every timer; resolves once the socket
    /// has closed. Idempotent. Recorded beats are kept; `start` works again.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn stop(&self) -> js_sys::Promise {
        crate::connection::stop(&self.inner)
    }

    /// The connection's state, for a banner such as "RECONNECTING in 3s".
    #[wasm_bindgen(unchecked_return_type = "ConnectionStatus")]
    pub fn connection(&self) -> JsValue {
        crate::connection::status(&self.inner)
    }
}

/// Sockets and timers alive on the page, across all registries: for tests
/// that check `stop()` and `free()` leave nothing behind.
#[wasm_bindgen(js_name = debugCounts, unchecked_return_type = "DebugCounts")]
pub fn debug_counts() -> JsValue {
    let (sockets, timers) = socket::live_counts();
    let o = Object::new();
    let _ = Reflect::set(&o, &"sockets".into(), &sockets.into());
    let _ = Reflect::set(&o, &"timers".into(), &timers.into());
    o.into()
}

/// Writes `values` to the start of the number buffer the host reads from.
pub(crate) fn write_nums(inner: &Inner, values: &[f64]) {
    inner.nums.borrow_mut()[..values.len()].copy_from_slice(values);
}

/// The constructor's options, checked by the host (types and ranges); the
/// worker names' bus rules are checked by `Registry::new`.
fn parse_options(options: Option<&JsValue>) -> Result<(Config, JsValue), JsValue> {
    let mut config = Config::default();
    let o = registry_options(
        options.unwrap_or(&JsValue::UNDEFINED),
        config.ok_window_seconds,
        config.max_frame_bytes as f64,
        MAX_MAX_FRAME_BYTES as f64,
    )?;
    if let Some(names) = o.get(0).dyn_ref::<Array>() {
        config.known_workers = names.iter().filter_map(|n| n.as_string()).collect();
    }
    config.ok_window_seconds = o.get(1).as_f64().unwrap_or(config.ok_window_seconds);
    config.max_frame_bytes = o
        .get(2)
        .as_f64()
        .map_or(config.max_frame_bytes, |n| n as usize);
    // The history options' rules live in registry.rs.
    let number = |key: &str, v: JsValue| -> Result<Option<f64>, JsValue> {
        if v.is_undefined() {
            return Ok(None);
        }
        v.as_f64().map(Some).ok_or_else(|| {
            let mut m = String::from(key);
            m.push_str(" must be a number");
            option_error(false, &m, &v)
        })
    };
    if let Some(n) = number("historyLength", o.get(4))? {
        config.history_length = registry::check_history_length(n)
            .map_err(|e| option_error(true, &e.message(), &JsValue::from(n)))?;
    }
    if let Some(n) = number("lateFactor", o.get(5))? {
        config.late_factor = n; // checked by Registry::new
    }
    Ok((config, o.get(3)))
}
