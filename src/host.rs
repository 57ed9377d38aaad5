//! The Rust face of `host.js`, the package's JS half: one typed boundary.
//! The names, codes and buffer layout `host.js` uses are defined here, once,
//! and handed to it when a registry is made.
//!
//! The rule of the shell: **no `RefCell` borrow is held across a call into
//! JS that can run user code** (an `onChange` listener, a custom clock, a
//! token provider). Such a call may re-enter the registry. Every method here
//! that can run user code says so.

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

use crate::clock::{Clock, Instant};
use crate::frame::Reason;
use crate::registry::Outcome;
use crate::session::{self, Change, Loaded};

#[wasm_bindgen(module = "/src/host.js")]
extern "C" {
    pub(crate) type Host;

    #[wasm_bindgen(constructor)]
    fn new(memory: &JsValue, names: &Array, clock: &JsValue, tables: &Object) -> Host;
    #[wasm_bindgen(method)]
    pub(crate) fn bind(this: &Host, frame_ptr: u32, frame_cap: u32, num_ptr: u32, num_len: u32);
    #[wasm_bindgen(method)]
    fn load(this: &Host, frame: &JsValue, probe: bool) -> i32;
    #[wasm_bindgen(method, js_name = loadPayload)]
    fn load_payload(this: &Host, payload: &JsValue) -> i32;
    #[wasm_bindgen(method)]
    pub(crate) fn size(this: &Host, frame: &JsValue) -> u32;
    #[wasm_bindgen(method)]
    pub(crate) fn chunk(this: &Host, offset: u32) -> u32;
    /// Runs a custom clock (user code) when there is one.
    #[wasm_bindgen(method)]
    fn mono(this: &Host) -> f64;
    /// Runs a custom clock (user code) when there is one.
    #[wasm_bindgen(method)]
    fn wall(this: &Host) -> f64;
    #[wasm_bindgen(method, js_name = setExtra)]
    pub(crate) fn set_extra(this: &Host, index: u32, len: u32);
    #[wasm_bindgen(method)]
    pub(crate) fn rows(this: &Host, n: u32) -> Array;
    #[wasm_bindgen(method, js_name = knownWorkers)]
    pub(crate) fn known_workers(this: &Host) -> Array;
    #[wasm_bindgen(method)]
    pub(crate) fn subscribe(this: &Host, callback: &Function) -> Function;
    /// Runs the `onChange` listeners (user code).
    #[wasm_bindgen(method)]
    fn emit(this: &Host, code: u32);
    #[wasm_bindgen(method)]
    pub(crate) fn clear(this: &Host);
    /// Calls the token provider on a later microtask, never inside this call.
    #[wasm_bindgen(method, js_name = fetchToken)]
    pub(crate) fn fetch_token(this: &Host, provider: &Function, generation: u32, done: &Function);
    #[wasm_bindgen(method, js_name = checkUrl)]
    pub(crate) fn check_url(this: &Host, url: &JsValue) -> JsValue;
    #[wasm_bindgen(method, js_name = closeAndWait)]
    pub(crate) fn close_and_wait(this: &Host, ws: &JsValue, timeout_ms: u32) -> Promise;
    /// How an option error shows the value it got.
    pub(crate) fn describe(value: &JsValue) -> String;
    #[wasm_bindgen(js_name = copyCounts)]
    pub(crate) fn copy_counts() -> Array;

    /// `new WorkerRegistry()`'s options, their types checked by `host.js`:
    /// each member is undefined when the option was not given.
    pub(crate) type RegistryOptions;
    /// Throws the option's `TypeError` or `RangeError`.
    #[wasm_bindgen(catch, js_name = registryOptions)]
    pub(crate) fn registry_options(
        options: &JsValue,
        largest_frame: f64,
    ) -> Result<RegistryOptions, JsValue>;
    #[wasm_bindgen(method, getter, js_name = knownWorkers)]
    pub(crate) fn known_workers(this: &RegistryOptions) -> Option<Array>;
    #[wasm_bindgen(method, getter, js_name = okWindowSeconds)]
    pub(crate) fn ok_window_seconds(this: &RegistryOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = maxFrameBytes)]
    pub(crate) fn max_frame_bytes(this: &RegistryOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = historyLength)]
    pub(crate) fn history_length(this: &RegistryOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = lateFactor)]
    pub(crate) fn late_factor(this: &RegistryOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn clock(this: &RegistryOptions) -> JsValue;

    /// `start()`'s options, checked by `host.js`; the backoff's two are
    /// always numbers (the defaults applied), the others undefined when not
    /// given.
    pub(crate) type ConnectOptions;
    /// Throws the option's `TypeError` or `RangeError`.
    #[wasm_bindgen(catch, js_name = connectOptions)]
    pub(crate) fn connect_options(
        options: &JsValue,
        initial_ms: f64,
        max_ms: f64,
    ) -> Result<ConnectOptions, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn nats(this: &ConnectOptions) -> bool;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn token(this: &ConnectOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = tokenProvider)]
    pub(crate) fn token_provider(this: &ConnectOptions) -> Option<Function>;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn user(this: &ConnectOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn pass(this: &ConnectOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = initialMs)]
    pub(crate) fn initial_ms(this: &ConnectOptions) -> f64;
    #[wasm_bindgen(method, getter, js_name = maxMs)]
    pub(crate) fn max_ms(this: &ConnectOptions) -> f64;
    #[wasm_bindgen(method, getter, js_name = pingIntervalMs)]
    pub(crate) fn ping_interval_ms(this: &ConnectOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = pongTimeoutMs)]
    pub(crate) fn pong_timeout_ms(this: &ConnectOptions) -> Option<f64>;
}

/// `load`'s answers other than a length.
const TOO_LARGE: i32 = -1;
const NOT_TEXT: i32 = -2;
const IGNORED: i32 = -3;

/// Numbers the host reads per snapshot row: status, ts, seconds_since.
pub(crate) const ROW_STRIDE: usize = 3;

/// A row's status as the number buffer holds it; the host names them with
/// `statuses`, indexed the same way.
pub(crate) const STATUS_NAMES: [&str; 3] = ["unknown", "ok", "stale"];

impl Host {
    /// A host for a registry with `names`, the `clock` option (or
    /// undefined) and the limits it judges frames by.
    pub(crate) fn create(names: &[String], clock: &JsValue, max_frame_bytes: usize) -> Host {
        let strings = |list: &[&str]| list.iter().map(|s| JsValue::from(*s)).collect::<Array>();
        let tables = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&tables, &k.into(), &v);
        };
        set("changes", strings(&Change::NAMES).into());
        set("statuses", strings(&STATUS_NAMES).into());
        set("rowStride", (ROW_STRIDE as u32).into());
        set("tooLarge", TOO_LARGE.into());
        set("notText", NOT_TEXT.into());
        set("ignored", IGNORED.into());
        set("maxFrameBytes", (max_frame_bytes as f64).into());
        set(
            "probeUnits",
            (session::probe_units(max_frame_bytes) as f64).into(),
        );
        let names: Array = names.iter().map(|s| JsValue::from(s.as_str())).collect();
        Host::new(&wasm_bindgen::memory(), &names, clock, &tables)
    }

    /// Copies a frame into the frame buffer; `probe` lets a string on
    /// another topic be judged without the copy.
    pub(crate) fn load_frame(&self, frame: &JsValue, probe: bool) -> Result<usize, Outcome> {
        decode(self.load(frame, probe), Reason::NotJson)
    }

    /// Copies a `record()` payload into the frame buffer, as JSON text.
    pub(crate) fn load_record(&self, payload: &JsValue) -> Result<usize, Outcome> {
        decode(self.load_payload(payload), Reason::BadPayload)
    }

    /// Runs the `onChange` listeners: user code, so call it with nothing
    /// borrowed.
    pub(crate) fn emit_change(&self, change: Change) {
        self.emit(change as u32);
    }

    /// Both clocks now. Runs a custom clock (user code) when there is one.
    pub(crate) fn now(&self) -> Instant {
        Instant {
            mono_ms: self.mono(),
            wall_ms: self.wall(),
        }
    }
}

fn decode(n: i32, not_text: Reason) -> Result<usize, Outcome> {
    match n {
        n if n >= 0 => Ok(n as usize),
        TOO_LARGE => Err(Outcome::Rejected(Reason::TooLarge)),
        IGNORED => Err(Outcome::Ignored),
        _ => Err(Outcome::Rejected(not_text)),
    }
}

/// The clock a frame is judged with. The browser's own clocks are read
/// lazily (only a beat needs the time, and most frames are not beats) and
/// cannot call back into the registry; a custom clock is user code, so it is
/// read once before anything is borrowed.
pub(crate) enum FrameClock<'a> {
    Browser(&'a Host),
    Fixed(Instant),
}

impl Clock for FrameClock<'_> {
    fn now(&self) -> Instant {
        match self {
            FrameClock::Browser(host) => host.now(),
            FrameClock::Fixed(now) => *now,
        }
    }
}

/// A loaded frame, borrowed from the copy buffer, for the session.
pub(crate) fn loaded(load: Result<usize, Outcome>, buffer: &[u8]) -> Loaded<'_> {
    match load {
        Ok(len) => Loaded::Bytes(&buffer[..len.min(buffer.len())]),
        Err(outcome) => Loaded::Refused(outcome),
    }
}
