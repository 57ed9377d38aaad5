//! Property tests: arbitrary bytes and arbitrary JSON never panic the
//! registry, never add a row, and the scanner agrees with serde_json.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use serde_json::{json, Value};
use worker_registry::clock::{Clock, ManualClock};
use worker_registry::json;
use worker_registry::registry::{Config, Outcome, Registry, Status, DEFAULT_KNOWN_WORKERS};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("system.api.health"),
            Just("system.bus.health"),
            Just("system.intruder.health"),
            Just("system..health"),
            Just("attacker.observed"),
            Just("1764190000.5"),
            Just("abc"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("v".to_string()),
                        Just("topic".to_string()),
                        Just("payload".to_string()),
                        Just("ts".to_string()),
                        Just("worker".to_string()),
                        Just("retained".to_string()),
                        Just("age".to_string()),
                        Just("op".to_string()),
                        "[a-z_]{1,6}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An envelope-shaped frame with arbitrary parts, so most of them reach the
/// later rules instead of failing at the first.
fn arb_envelope() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![Just(json!(1)), Just(json!(2)), arb_json()]),
        prop::option::of(prop_oneof![
            prop::sample::select(DEFAULT_KNOWN_WORKERS.to_vec())
                .prop_map(|w| json!(format!("system.{w}.health"))),
            Just(json!("system.intruder.health")),
            arb_json(),
        ]),
        prop::option::of(arb_json()),
        prop::option::of(arb_json()),
        prop::option::of(arb_json()),
    )
        .prop_map(|(v, topic, payload, retained, age)| {
            let mut m = serde_json::Map::new();
            for (k, val) in [
                ("v", v),
                ("topic", topic),
                ("payload", payload),
                ("retained", retained),
                ("age", age),
            ] {
                if let Some(val) = val {
                    m.insert(k.into(), val);
                }
            }
            Value::Object(m)
        })
}

fn check_rows(r: &Registry, c: &ManualClock, named: &[String]) {
    let rows: Vec<_> = r.rows(c.now()).collect();
    assert_eq!(rows.len(), DEFAULT_KNOWN_WORKERS.len());
    for (i, row) in rows.iter().enumerate() {
        if row.status != Status::Unknown {
            assert!(
                named.contains(&r.names()[i]),
                "row {} filled without a frame naming it",
                r.names()[i]
            );
            assert!(row.seconds_since.unwrap() >= 0.0);
            let extra: Value = serde_json::from_slice(r.extra(i)).expect("extra is JSON");
            assert!(extra.is_object());
        }
    }
}

fn names_in(frames: &[Vec<u8>]) -> Vec<String> {
    DEFAULT_KNOWN_WORKERS
        .iter()
        .filter(|w| {
            let t = format!("system.{w}.health");
            frames
                .iter()
                .any(|f| f.windows(t.len()).any(|x| x == t.as_bytes()))
        })
        .map(|w| w.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_or_add_rows(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..20)) {
        let c = ManualClock::new(0.0, 0.0);
        let mut r = Registry::new(Config::default()).unwrap();
        for f in &frames {
            r.ingest(f, &c);
            r.ingest_nats(b"system.api.health", f, &c);
            c.advance(1.0);
        }
        let mut named = names_in(&frames);
        named.push("api".into());
        check_rows(&r, &c, &named);
    }

    #[test]
    fn random_json_never_panics_or_adds_rows(values in prop::collection::vec(prop_oneof![arb_envelope(), arb_json()], 1..20)) {
        let c = ManualClock::new(0.0, 0.0);
        let mut r = Registry::new(Config::default()).unwrap();
        let frames: Vec<Vec<u8>> = values.iter().map(|v| serde_json::to_vec(v).unwrap()).collect();
        let mut counted = 0;
        for f in &frames {
            let o = r.ingest(f, &c);
            if o != Outcome::Control { counted += 1; }
            c.advance(7.0);
        }
        let s = r.stats();
        prop_assert_eq!(s.accepted + s.ignored + s.superseded + s.rejected.iter().sum::<u64>(), counted);
        check_rows(&r, &c, &names_in(&frames));
    }

    #[test]
    fn the_scanner_agrees_with_serde_json(v in arb_json()) {
        let text = serde_json::to_string_pretty(&v).unwrap();
        prop_assert!(json::validate(text.as_bytes()).is_ok());
    }

    #[test]
    fn the_scanner_refuses_what_serde_json_refuses(bytes in prop::collection::vec(prop_oneof![
        Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b':'), Just(b','),
        Just(b'1'), Just(b'-'), Just(b'.'), Just(b'e'), Just(b' '), Just(b'\\'), Just(b'u'),
        Just(b'n'), Just(b't'), Just(b'a'), any::<u8>()
    ], 0..40)) {
        let ours = json::validate(&bytes).is_ok();
        let theirs = serde_json::from_slice::<Value>(&bytes).is_ok();
        // serde_json refuses lone surrogate escapes, which JSON (and
        // JSON.parse) allow; that is the one intended difference, so where
        // the two disagree the input must hold a surrogate escape.
        if ours != theirs {
            prop_assert!(
                ours && has_surrogate_escape(&bytes),
                "{:?}: ours {}, serde_json {}",
                String::from_utf8_lossy(&bytes),
                ours,
                theirs
            );
        }
    }
}

/// Whether `bytes` hold a `\uD800`..`\uDFFF` escape.
fn has_surrogate_escape(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| {
        w[..2] == *b"\\u"
            && std::str::from_utf8(&w[2..])
                .ok()
                .and_then(|h| u16::from_str_radix(h, 16).ok())
                .is_some_and(|c| (0xD800..=0xDFFF).contains(&c))
    })
}
