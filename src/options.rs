//! The cold paths across the boundary: the constructor's and `start()`'s
//! options in, read into typed Rust values; `stats()` and `connection()` out,
//! with serde and serde-wasm-bindgen. Every refused option throws a
//! `TypeError` (wrong type) or `RangeError` (wrong value) that names the
//! option and the rule and shows what was given.
//!
//! Options are read with `js_sys` rather than serde-wasm-bindgen's
//! deserializer: measured, the deserializer adds about 18 KiB to the gzipped
//! wasm (its error paths bring in `core::fmt`'s float formatting), which
//! alone would break the 40 KiB budget. Its serializer costs under 4 KiB and
//! is used.

use crate::backoff::Backoff;
use crate::frame::Reason;
use crate::host;
use crate::link::Protocol;
use crate::registry::{Config, Stats, MAX_MAX_FRAME_BYTES};
use crate::session::Settings;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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

/// A JS value, by its type.
enum Val {
    Missing,
    Num(f64),
    Str(String),
    List(Vec<JsValue>),
    Other,
}

/// Only `undefined` means "the default": a `null` is a value of the wrong
/// type, as it always was.
fn val(v: &JsValue) -> Val {
    if v.is_undefined() {
        Val::Missing
    } else if let Some(n) = v.as_f64() {
        Val::Num(n)
    } else if let Some(s) = v.as_string() {
        Val::Str(s)
    } else if js_sys::Array::is_array(v) {
        Val::List(js_sys::Array::from(v).iter().collect())
    } else {
        Val::Other
    }
}

/// An options object's members, each checked against the known names.
/// Undefined and null give no members (all defaults).
fn object(
    value: &JsValue,
    what: &str,
    known: &[&str],
) -> Result<Vec<(String, JsValue)>, OptionError> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let not_object =
        || OptionError::with_value(false, &cat(&[what, " options must be an object"]), value);
    if !value.is_object() || value.is_function() || js_sys::Array::is_array(value) {
        return Err(not_object());
    }
    let object: &js_sys::Object = value.unchecked_ref();
    let members: Vec<(String, JsValue)> = js_sys::Object::keys(object)
        .iter()
        .filter_map(|k| {
            let v = js_sys::Reflect::get(value, &k).ok()?;
            Some((k.as_string()?, v))
        })
        .collect();
    for (key, v) in &members {
        if !known.contains(&key.as_str()) {
            let mut rule = cat(&["unknown ", what, " option \"", key, "\"; the options are "]);
            for (i, k) in known.iter().enumerate() {
                if i > 0 {
                    rule.push_str(", ");
                }
                rule.push_str(k);
            }
            return Err(OptionError::with_value(false, &rule, v));
        }
    }
    Ok(members)
}

/// A number option: `Ok(None)` when undefined.
fn number(name: &str, v: &JsValue, rule: NumberRule) -> Result<Option<f64>, OptionError> {
    let text = match rule {
        NumberRule::Positive => cat(&[name, " must be a finite number greater than 0"]),
        NumberRule::Whole(max) => cat(&[
            name,
            " must be a whole number of bytes from 1 to ",
            &host::describe(&JsValue::from_f64(max)),
        ]),
    };
    match val(v) {
        Val::Missing => Ok(None),
        Val::Num(n) => {
            let ok = match rule {
                NumberRule::Positive => n.is_finite() && n > 0.0,
                NumberRule::Whole(max) => n.fract() == 0.0 && (1.0..=max).contains(&n),
            };
            if ok {
                Ok(Some(n))
            } else {
                Err(OptionError::with_value(true, &text, v))
            }
        }
        _ => Err(OptionError::with_value(false, &text, v)),
    }
}

/// A number option whose range the registry checks: `Ok(None)` when
/// undefined.
fn any_number(name: &str, v: &JsValue) -> Result<Option<f64>, OptionError> {
    match val(v) {
        Val::Missing => Ok(None),
        Val::Num(n) => Ok(Some(n)),
        _ => Err(OptionError::with_value(
            false,
            &cat(&[name, " must be a number"]),
            v,
        )),
    }
}

/// A string option: `Ok(None)` when undefined.
fn text(name: &str, v: &JsValue) -> Result<Option<String>, OptionError> {
    match val(v) {
        Val::Missing => Ok(None),
        Val::Str(s) => Ok(Some(s)),
        _ => Err(OptionError::with_value(
            false,
            &cat(&[name, " must be a string"]),
            v,
        )),
    }
}

/// A number option and its rule.
#[derive(Clone, Copy)]
enum NumberRule {
    /// Finite and greater than 0.
    Positive,
    /// A whole number from 1 to the given maximum.
    Whole(f64),
}

/// The constructor's options: the registry's configuration and the `clock`
/// option (undefined when not given).
pub(crate) fn registry_options(options: &JsValue) -> Result<(Config, JsValue), OptionError> {
    let mut config = Config::default();
    let mut clock = JsValue::UNDEFINED;
    let known = [
        "knownWorkers",
        "okWindowSeconds",
        "maxFrameBytes",
        "clock",
        "historyLength",
        "lateFactor",
    ];
    for (key, v) in object(options, "WorkerRegistry", &known)? {
        match key.as_str() {
            "knownWorkers" => match val(&v) {
                Val::Missing => {}
                Val::List(items) => {
                    let mut names = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let index = host::describe(&JsValue::from_f64(i as f64));
                        let name = cat(&["knownWorkers[", &index, "]"]);
                        match text(&name, item)? {
                            Some(n) => names.push(n),
                            None => {
                                let rule = cat(&[&name, " must be a string"]);
                                return Err(OptionError::with_value(false, &rule, item));
                            }
                        }
                    }
                    config.known_workers = names;
                }
                _ => {
                    return Err(OptionError::with_value(
                        false,
                        "knownWorkers must be an array of worker names",
                        &v,
                    ))
                }
            },
            "okWindowSeconds" => {
                if let Some(w) = number(&key, &v, NumberRule::Positive)? {
                    config.ok_window_seconds = w;
                }
            }
            "maxFrameBytes" => {
                let rule = NumberRule::Whole(MAX_MAX_FRAME_BYTES as f64);
                if let Some(m) = number(&key, &v, rule)? {
                    config.max_frame_bytes = m as usize;
                }
            }
            // The ranges of these two are the registry's rules (registry.rs).
            "historyLength" => {
                if let Some(n) = any_number(&key, &v)? {
                    config.history_length = crate::registry::check_history_length(n)
                        .map_err(|e| OptionError::with_value(true, &e.message(), &v))?;
                }
            }
            "lateFactor" => {
                if let Some(n) = any_number(&key, &v)? {
                    config.late_factor = n;
                }
            }
            _ => clock = v,
        }
    }
    if clock.is_undefined() {
        return Ok((config, clock));
    }
    let method = |m: &str| {
        js_sys::Reflect::get(&clock, &m.into())
            .map(|f| f.is_function())
            .unwrap_or(false)
    };
    if !clock.is_object() || !method("monoMs") || !method("wallMs") {
        return Err(OptionError::with_value(
            false,
            "clock must be an object with monoMs() and wallMs() methods",
            &clock,
        ));
    }
    Ok((config, clock))
}

/// `start()`'s options: the session's settings and the `tokenProvider`.
pub(crate) fn connect_options(
    options: &JsValue,
) -> Result<(Settings, Option<js_sys::Function>), OptionError> {
    let mut s = Settings::default();
    let (mut provider, mut backoff, mut protocol) = (JsValue::UNDEFINED, JsValue::UNDEFINED, None);
    let known = [
        "protocol",
        "token",
        "tokenProvider",
        "user",
        "pass",
        "backoff",
        "pingIntervalMs",
        "pongTimeoutMs",
    ];
    for (key, v) in object(options, "start", &known)? {
        match key.as_str() {
            "protocol" => protocol = text(&key, &v)?.map(|p| (p, v)),
            "token" => s.token = text(&key, &v)?,
            "user" => s.user = text(&key, &v)?,
            "pass" => s.pass = text(&key, &v)?,
            "tokenProvider" => provider = v,
            "backoff" => backoff = v,
            "pingIntervalMs" => {
                if let Some(ms) = number(&key, &v, NumberRule::Positive)? {
                    s.ping_interval_ms = ms;
                }
            }
            _ => {
                if let Some(ms) = number(&key, &v, NumberRule::Positive)? {
                    s.pong_timeout_ms = ms;
                }
            }
        }
    }
    s.protocol = match &protocol {
        None => Protocol::Gateway,
        Some((p, _)) if p == "gateway" => Protocol::Gateway,
        Some((p, _)) if p == "nats" => Protocol::Nats,
        Some((_, given)) => {
            return Err(OptionError::with_value(
                false,
                "protocol must be \"gateway\" or \"nats\"",
                given,
            ))
        }
    };
    let provider = if provider.is_undefined() {
        None
    } else if let Some(f) = provider.dyn_ref::<js_sys::Function>() {
        if s.token.is_some() {
            return Err(OptionError::with_value(
                false,
                "give token or tokenProvider, not both",
                options,
            ));
        }
        Some(f.clone())
    } else {
        return Err(OptionError::with_value(
            false,
            "tokenProvider must be a function",
            &provider,
        ));
    };
    if s.protocol == Protocol::Gateway && (s.user.is_some() || s.pass.is_some()) {
        return Err(OptionError::with_value(
            false,
            "user and pass are for protocol \"nats\"; the gateway takes a token",
            options,
        ));
    }
    s.backoff = backoff_options(&backoff)?;
    Ok((s, provider))
}

fn backoff_options(value: &JsValue) -> Result<Backoff, OptionError> {
    let d = Backoff::default();
    let (mut initial, mut max) = (None, None);
    for (key, v) in object(value, "backoff", &["initialMs", "maxMs"])? {
        if key == "initialMs" {
            initial = number("backoff.initialMs", &v, NumberRule::Positive)?;
        } else {
            max = number("backoff.maxMs", &v, NumberRule::Positive)?;
        }
    }
    let initial = initial.unwrap_or(d.initial_ms);
    let max = max.unwrap_or(d.max_ms.max(initial));
    if max < initial {
        return Err(OptionError::with_value(
            true,
            "backoff.maxMs must be at least backoff.initialMs",
            value,
        ));
    }
    Ok(Backoff {
        initial_ms: initial,
        max_ms: max,
    })
}
