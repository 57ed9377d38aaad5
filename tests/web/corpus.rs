//! The malformed-frame corpus (tests/corpus/malformed.json) through the JS
//! API in Chromium: every frame, as a string and as bytes, is refused with its
//! reason, counted once in `stats()`, and leaves the snapshot unchanged.

use js_sys::{Array, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use super::{beat, get, ingest, js, m, registry, rejected, snapshot};

const CORPUS: &str = include_str!("../corpus/malformed.json");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// `frame_parts`: text pieces and `{repeat, times}` runs, concatenated.
fn parts(list: &JsValue) -> String {
    let mut out = String::new();
    for part in list.unchecked_ref::<Array>().iter() {
        match part.as_string() {
            Some(text) => out.push_str(&text),
            None => {
                let text = get(&part, "repeat").as_string().expect("repeat is text");
                let times = get(&part, "times").as_f64().expect("times is a count");
                out.push_str(&text.repeat(times as usize));
            }
        }
    }
    out
}

/// The ways one corpus entry is fed: text as a JS string and as its UTF-8
/// bytes, raw bytes as a `Uint8Array` only.
fn inputs(frame: &JsValue) -> Vec<(&'static str, JsValue)> {
    let pieces = get(frame, "frame_parts");
    let text = match get(frame, "frame").as_string() {
        Some(text) => Some(text),
        None if pieces.is_object() => Some(parts(&pieces)),
        None => None,
    };
    match text {
        Some(text) => vec![
            ("string", JsValue::from(text.as_str())),
            ("bytes", Uint8Array::from(text.as_bytes()).into()),
        ],
        None => {
            let h = get(frame, "frame_hex").as_string().expect("a frame");
            vec![("bytes", Uint8Array::from(&hex(&h)[..]).into())]
        }
    }
}

#[wasm_bindgen_test]
fn every_malformed_frame_is_refused_and_changes_nothing() {
    // A clock that stands still, so the snapshot can be compared as text.
    let reg = registry("{clock: {monoMs: () => 5000, wallMs: () => 1764190001500}}");
    assert!(ingest(
        &reg,
        &beat("api", r#","pid":42,"__proto__":{"polluted":true}"#)
    ));
    assert!(ingest(
        &reg,
        r#"{"v":1,"topic":"system.bus.health","payload":{"worker":"bus","ts":1764189990},"retained":true,"age":10}"#
    ));
    let recorded = m(
        &reg,
        "record",
        &[
            "collector".into(),
            JsValue::from(1764190000.0),
            js("({queue: 3})"),
        ],
    );
    assert_eq!(recorded.as_bool(), Some(true));
    let before = JSON::stringify(&snapshot(&reg)).unwrap();

    let doc = JSON::parse(CORPUS).expect("malformed.json is JSON");
    let frames: Array = get(&doc, "frames").unchecked_into();
    assert!(frames.length() >= 60);
    let mut failures = Vec::new();
    let mut fed = 0.0;
    for frame in frames.iter() {
        let name = get(&frame, "name").as_string().unwrap();
        let reason = get(&frame, "reason").as_string().unwrap();
        for (how, input) in inputs(&frame) {
            let count = rejected(&reg, &reason);
            let got = m(&reg, "ingest", &[input]);
            fed += 1.0;
            if got.as_bool() != Some(false) {
                failures.push(format!("{name:?} as {how}: ingest gave {got:?}"));
            }
            if rejected(&reg, &reason) != count + 1.0 {
                let stats = JSON::stringify(&m(&reg, "stats", &[])).unwrap();
                failures.push(format!(
                    "{name:?} as {how}: not counted as {reason}; stats {}",
                    String::from(stats)
                ));
            }
            if JSON::stringify(&snapshot(&reg)).unwrap() != before {
                failures.push(format!("{name:?} as {how}: the snapshot changed"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    let stats = m(&reg, "stats", &[]);
    assert_eq!(get(&stats, "accepted").as_f64(), Some(3.0));
    assert_eq!(get(&stats, "ignored").as_f64(), Some(0.0));
    assert_eq!(get(&stats, "superseded").as_f64(), Some(0.0));
    let counted: f64 = js_sys::Object::values(get(&stats, "rejected").unchecked_ref())
        .iter()
        .map(|v: JsValue| v.as_f64().unwrap())
        .sum();
    assert_eq!(counted, fed, "every feed counted once");
}
