//! The malformed-frame corpus (tests/corpus/malformed.json), natively: every
//! frame is refused with its named reason, counted once, and changes no row.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::Value;
use worker_registry::clock::{Clock, ManualClock};
use worker_registry::frame::Reason;
use worker_registry::registry::{Config, Outcome, Registry, Status};

const CORPUS: &str = include_str!("corpus/malformed.json");
const T0: f64 = 1_764_190_000.0;

/// One corpus entry, its bytes built.
struct Case {
    name: String,
    bytes: Vec<u8>,
    reason: Reason,
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// `frame_parts`: text pieces and `{"repeat": text, "times": n}` runs.
fn parts(list: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for part in list {
        match part {
            Value::String(s) => out.push_str(s),
            Value::Object(o) => {
                let text = o["repeat"].as_str().expect("repeat is text");
                let times = o["times"].as_u64().expect("times is a count");
                out.push_str(&text.repeat(times as usize));
            }
            other => panic!("a frame part is text or a repeat, not {other}"),
        }
    }
    out.into_bytes()
}

fn cases() -> Vec<Case> {
    let doc: Value = serde_json::from_str(CORPUS).expect("malformed.json is JSON");
    let frames = doc["frames"].as_array().expect("a frames array");
    frames
        .iter()
        .map(|f| {
            let name = f["name"].as_str().expect("a name").to_string();
            let bytes = if let Some(text) = f.get("frame") {
                text.as_str().expect("frame is text").as_bytes().to_vec()
            } else if let Some(h) = f.get("frame_hex") {
                hex(h.as_str().expect("frame_hex is text"))
            } else if let Some(p) = f.get("frame_parts") {
                parts(p.as_array().expect("frame_parts is a list"))
            } else {
                panic!("{name}: no frame, frame_hex or frame_parts")
            };
            let reason = f["reason"].as_str().expect("a reason");
            let reason = *Reason::ALL
                .iter()
                .find(|r| r.as_str() == reason)
                .unwrap_or_else(|| panic!("{name}: unknown reason {reason:?}"));
            Case {
                name,
                bytes,
                reason,
            }
        })
        .collect()
}

/// Status, ts, seconds_since (as bits) and extra text of every row.
type Rows = Vec<(Status, Option<u64>, Option<u64>, Vec<u8>)>;

fn rows(reg: &Registry, clock: &ManualClock) -> Rows {
    reg.rows(clock.now())
        .enumerate()
        .map(|(i, r)| {
            (
                r.status,
                r.last_heartbeat_ts.map(f64::to_bits),
                r.seconds_since.map(f64::to_bits),
                reg.extra(i).to_vec(),
            )
        })
        .collect()
}

/// A registry holding a few good beats: a live one with extras (including
/// a `__proto__` key), a retained one with an age, one recorded by hand.
fn seeded() -> (Registry, ManualClock) {
    let clock = ManualClock::new(5_000.0, T0 * 1000.0);
    let mut reg = Registry::new(Config::default()).unwrap();
    let good: [&[u8]; 2] = [
        br#"{"v":1,"id":"ab12","topic":"system.api.health","type":"health","ts":1764190000.5,"payload":{"worker":"api","ts":1764190000.5,"pid":42,"__proto__":{"polluted":true},"realism":{"llm_enabled":true}}}"#,
        br#"{"v":1,"topic":"system.bus.health","payload":{"worker":"bus","ts":1764189990},"retained":true,"age":10}"#,
    ];
    for frame in good {
        assert!(matches!(reg.ingest(frame, &clock), Outcome::Recorded(_)));
    }
    let by_hand = reg.record("collector", Some(T0), br#"{"queue":3}"#, &clock);
    assert_eq!(by_hand, Outcome::Recorded(2));
    clock.advance(1.5);
    (reg, clock)
}

#[test]
fn every_malformed_frame_is_refused_with_its_reason_and_changes_no_row() {
    let cases = cases();
    assert!(cases.len() >= 60, "the corpus has {} frames", cases.len());
    for reason in Reason::ALL {
        assert!(
            cases.iter().any(|c| c.reason == reason),
            "no frame for {}",
            reason.as_str()
        );
    }

    let (mut reg, clock) = seeded();
    let start = rows(&reg, &clock);
    assert_eq!(
        start.iter().filter(|r| r.0 == Status::Ok).count(),
        3,
        "three good beats"
    );
    let before = reg.stats().clone();
    let mut expected = before.rejected;
    let mut failures = Vec::new();
    for case in &cases {
        let got = reg.ingest(&case.bytes, &clock);
        expected[case.reason as usize] += 1;
        if got != Outcome::Rejected(case.reason) {
            failures.push(format!(
                "{:?}: expected {}, got {got:?}",
                case.name,
                case.reason.as_str()
            ));
        }
        if rows(&reg, &clock) != start {
            failures.push(format!("{:?}: changed a row", case.name));
        }
        if reg.stats().rejected != expected {
            failures.push(format!("{:?}: stats().rejected is off", case.name));
            expected = reg.stats().rejected;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} frames failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    let after = reg.stats();
    assert_eq!(after.accepted, before.accepted);
    assert_eq!(after.ignored, before.ignored);
    assert_eq!(after.superseded, before.superseded);
    for reason in Reason::ALL {
        let n = cases.iter().filter(|c| c.reason == reason).count() as u64;
        assert_eq!(
            after.rejected(reason) - before.rejected(reason),
            n,
            "{}",
            reason.as_str()
        );
    }
}

#[test]
fn the_corpus_is_well_formed() {
    let cases = cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "frame names are unique");
    // Text frames must be valid UTF-8 text (JSON guarantees it), so that the
    // browser test can feed them as JS strings unchanged; raw bytes that are
    // not UTF-8 belong in frame_hex.
    let doc: Value = serde_json::from_str(CORPUS).unwrap();
    for f in doc["frames"].as_array().unwrap() {
        if let Some(h) = f.get("frame_hex") {
            let bytes = hex(h.as_str().unwrap());
            assert!(
                std::str::from_utf8(&bytes).is_err() || bytes.contains(&0),
                "{}: frame_hex is for bytes that are not text",
                f["name"]
            );
        }
    }
}
