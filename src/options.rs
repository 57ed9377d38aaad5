//! The cold paths across the boundary: the constructor's and `start()`'s
//! options in, as typed Rust values; `stats()` and `connection()` out, with
//! serde and serde-wasm-bindgen. Every refused option throws a `TypeError`
//! (wrong type) or `RangeError` (wrong value) that names the option and the
//! rule and shows what was given.
//!
//! `host.js` checks the options' JS types and names and hands over an
//! object of named members (`host::RegistryOptions`, `host::ConnectOptions`).
//! Measured: serde-wasm-bindgen's deserializer adds about 18 KiB to the
//! gzipped wasm (its error paths bring in `core::fmt`'s float formatting),
//! and reading the options with `js_sys` in Rust costs 3.2 KiB of wasm
//! against under 1 KiB of JS; either alone breaks the 40 KiB budget. Its
//! serializer costs under 4 KiB and is used.

use crate::backoff::Backoff;
use crate::frame::Reason;
use crate::host;
use crate::link::Protocol;
use crate::registry::{Config, Stats, MAX_MAX_FRAME_BYTES};
use crate::session::Settings;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// One field of an object going out to JS.
pub(crate) enum Field<'a> {
    Num(f64),
    OptNum(Option<f64>),
    Bool(bool),
    OptStr(Option<&'a str>),
    Nums(&'a [f64]),
    /// A nested object.
    Object(Fields<'a>),
}

/// An object going out to JS: its fields, in order. All output goes through
/// this one `Serialize` impl, written as a serde map, so serde-wasm-bindgen
/// is compiled in once (each derived struct would be another copy, plus its
/// cache of field names) and the wasm stays within its budget.
pub(crate) struct Fields<'a>(pub(crate) Vec<(&'a str, Field<'a>)>);

impl Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                Field::Num(n) => m.serialize_entry(k, n)?,
                Field::OptNum(n) => m.serialize_entry(k, n)?,
                Field::Bool(b) => m.serialize_entry(k, b)?,
                Field::OptStr(t) => m.serialize_entry(k, t)?,
                Field::Nums(ns) => m.serialize_entry(k, ns)?,
                Field::Object(o) => m.serialize_entry(k, o)?,
            }
        }
        m.end()
    }
}

/// Serializes fields as a plain object, `None` as `null`.
pub(crate) fn to_js(fields: &Fields<'_>) -> JsValue {
    let s = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    fields.serialize(&s).unwrap_or(JsValue::NULL)
}

/// `stats()`: the counters, and one count per reason in the order of
/// [`Reason::ALL`].
pub(crate) fn stats(s: &Stats) -> Fields<'static> {
    let rejected = Reason::ALL
        .iter()
        .map(|r| (r.as_str(), Field::Num(s.rejected[*r as usize] as f64)))
        .collect();
    Fields(vec![
        ("accepted", Field::Num(s.accepted as f64)),
        ("ignored", Field::Num(s.ignored as f64)),
        ("superseded", Field::Num(s.superseded as f64)),
        ("rejected", Field::Object(Fields(rejected))),
    ])
}

/// `history(name)`.
pub(crate) fn history<'a>(name: &'a str, h: &'a crate::registry::History) -> Fields<'a> {
    Fields(vec![
        ("name", Field::OptStr(Some(name))),
        ("beats", Field::Nums(&h.beats)),
        ("cadence_s", Field::OptNum(h.cadence_s)),
        ("late", Field::Bool(h.late)),
    ])
}

/// `connection()`.
pub(crate) fn connection<'a>(c: &crate::session::ConnectionStatus<'a>) -> Fields<'a> {
    Fields(vec![
        ("state", Field::OptStr(Some(c.state))),
        ("bus_connected", Field::Bool(c.bus_connected)),
        ("upstream", Field::OptStr(Some(c.upstream))),
        ("upstream_for_s", Field::OptNum(c.upstream_for_s)),
        ("url", Field::OptStr(c.url)),
        ("attempts", Field::Num(c.attempts as f64)),
        ("last_error", Field::OptStr(c.last_error)),
        ("next_retry_ms", Field::OptNum(c.next_retry_ms)),
    ])
}

/// Joins message parts. Messages are built without `format!`: `core::fmt`
/// (float formatting above all) would cost the wasm more than all of this
/// module.
fn cat(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
    }
    s
}

/// An option error, before it becomes a JS `Error`.
pub(crate) struct OptionError {
    range: bool,
    message: String,
}

impl OptionError {
    fn new(range: bool, message: String) -> OptionError {
        OptionError { range, message }
    }

    /// An error with no value to show.
    pub(crate) fn bare(range: bool, message: String) -> OptionError {
        OptionError::new(range, message)
    }

    /// `WorkerRegistry: <what> (got <value>)` as a `RangeError` or a
    /// `TypeError`.
    pub(crate) fn with_value(range: bool, what: &str, got: &JsValue) -> OptionError {
        OptionError::new(range, cat(&[what, " (got ", &host::describe(got), ")"]))
    }

    pub(crate) fn into_js(self) -> JsValue {
        let text = cat(&["WorkerRegistry: ", &self.message]);
        if self.range {
            js_sys::RangeError::new(&text).into()
        } else {
            js_sys::TypeError::new(&text).into()
        }
    }
}

/// The constructor's options: the registry's configuration and the `clock`
/// option (undefined when not given). `host.js` checks their types; the
/// ranges of `historyLength` and `lateFactor` are the registry's rules
/// (registry.rs), checked when it is made.
pub(crate) fn registry_options(options: &JsValue) -> Result<(Config, JsValue), JsValue> {
    let o = host::registry_options(options, MAX_MAX_FRAME_BYTES as f64)?;
    let mut config = Config::default();
    if let Some(names) = o.known_workers() {
        // host.js made this a new array of strings.
        config.known_workers = names.iter().filter_map(|n| n.as_string()).collect();
    }
    if let Some(w) = o.ok_window_seconds() {
        config.ok_window_seconds = w;
    }
    if let Some(m) = o.max_frame_bytes() {
        config.max_frame_bytes = m as usize;
    }
    if let Some(n) = o.history_length() {
        config.history_length = crate::registry::check_history_length(n)
            .map_err(|e| OptionError::with_value(true, &e.message(), &n.into()).into_js())?;
    }
    if let Some(f) = o.late_factor() {
        config.late_factor = f;
    }
    Ok((config, o.clock()))
}

/// `start()`'s options: the session's settings and the `tokenProvider`.
pub(crate) fn connect_options(
    options: &JsValue,
) -> Result<(Settings, Option<js_sys::Function>), JsValue> {
    let d = Settings::default();
    let o = host::connect_options(options, d.backoff.initial_ms, d.backoff.max_ms)?;
    let settings = Settings {
        protocol: if o.nats() {
            Protocol::Nats
        } else {
            Protocol::Gateway
        },
        backoff: Backoff {
            initial_ms: o.initial_ms(),
            max_ms: o.max_ms(),
        },
        ping_interval_ms: o.ping_interval_ms().unwrap_or(d.ping_interval_ms),
        pong_timeout_ms: o.pong_timeout_ms().unwrap_or(d.pong_timeout_ms),
        token: o.token(),
        user: o.user(),
        pass: o.pass(),
        ..d
    };
    Ok((settings, o.token_provider()))
}
