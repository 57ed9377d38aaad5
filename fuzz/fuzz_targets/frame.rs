//! Fuzz target `frame`: arbitrary frames through `Registry::ingest`,
//! `ingest_nats` and `record` with a driven clock, checking what a dashboard
//! would notice: no panic, rows, liveness, extras, counters, rule order.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use worker_registry::clock::{Clock, Instant, ManualClock};
use worker_registry::frame::{self, Reason};
use worker_registry::registry::{Config, Outcome, Registry, Row, Status, DEFAULT_KNOWN_WORKERS};
use worker_registry::topic;

// Input layout (all of it fuzzer-chosen):
//
//   byte 0     the registry: bits 0-1 allowlist, 2-3 maxFrameBytes, 4-5 window
//   then ops   [ctl] [len lo] [len hi] [len bytes of body, or what is left]
//
//   ctl bits 0-1  0, 3: ingest(body)    1: ingest_nats(subject, rest)
//                 2: record(worker, ts, rest)
//   ctl bits 2-4  the clock step taken before the op (CLOCK_STEPS)
//   ctl bits 5-7  record: the worker (index in the allowlist, else "intruder")
//
// For ingest_nats the body's first byte is the subject length k: the subject
// is the next k bytes, the message body the rest. For record the body's
// first byte picks `ts` (TS), the rest is the payload JSON.

const ALLOWLISTS: [&[&str]; 4] = [
    &DEFAULT_KNOWN_WORKERS,
    &["api", "bus"],
    // Look-alikes of "api", each a different worker byte for byte.
    &[
        "api",
        "\u{430}pi",
        "\u{ff41}\u{ff50}\u{ff49}",
        "API",
        "a\u{200d}pi",
    ],
    &["x"],
];
const MAX_FRAME_BYTES: [usize; 4] = [65_536, 64, 300, 2048];
const WINDOWS: [f64; 4] = [90.0, 1.0, 1e-3, 1e12];
/// (monotonic, wall) seconds.
const CLOCK_STEPS: [(f64, f64); 8] = [
    (0.0, 0.0),
    (1.0, 1.0),
    (30.0, 30.0),
    (100.0, 100.0),
    (0.0, -50.0),  // the wall clock is set back
    (0.0, 3600.0), // the laptop slept: only the wall clock moved
    (-5.0, -5.0),  // a custom clock going backwards
    (0.001, 0.001),
];
const TS: [Option<f64>; 8] = [
    None,
    None,
    None,
    Some(0.0),
    Some(f64::NAN),
    Some(f64::INFINITY),
    Some(-1e300),
    Some(1_764_190_000.5),
];

/// What `stats()` should say, counted from the outcomes.
#[derive(Default)]
struct Tally {
    accepted: u64,
    ignored: u64,
    superseded: u64,
    rejected: [u64; 9],
}

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Recorded(_) => self.accepted += 1,
            Outcome::Superseded => self.superseded += 1,
            Outcome::Ignored => self.ignored += 1,
            Outcome::Control => {}
            Outcome::Rejected(r) => self.rejected[r as usize] += 1,
        }
    }

    fn check(&self, reg: &Registry) {
        let s = reg.stats();
        assert_eq!(s.accepted, self.accepted, "stats().accepted");
        assert_eq!(s.ignored, self.ignored, "stats().ignored");
        assert_eq!(s.superseded, self.superseded, "stats().superseded");
        assert_eq!(s.rejected, self.rejected, "stats().rejected");
        for r in Reason::ALL {
            assert_eq!(s.rejected(r), self.rejected[r as usize], "{}", r.as_str());
        }
    }
}

/// A row with its floats as bits, so rows compare exactly.
fn bits(row: Row) -> (Status, Option<u64>, Option<u64>) {
    (
        row.status,
        row.last_heartbeat_ts.map(f64::to_bits),
        row.seconds_since.map(f64::to_bits),
    )
}

type View = Vec<((Status, Option<u64>, Option<u64>), Vec<u8>)>;

/// Every row and its `extra`, as of `now`.
fn view(reg: &Registry, now: Instant) -> View {
    let rows: Vec<Row> = reg.rows(now).collect();
    assert_eq!(
        rows.len(),
        reg.names().len(),
        "one row per allowlisted worker"
    );
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| (bits(row), reg.extra(i).to_vec()))
        .collect()
}

/// The top-level keys of a JSON object, in order, duplicates kept.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// The rules for one row, alone.
fn check_row(reg: &Registry, i: usize, row: Row) {
    let extra = reg.extra(i);
    match row.status {
        Status::Unknown => {
            assert_eq!(row.last_heartbeat_ts, None);
            assert_eq!(row.seconds_since, None);
            assert_eq!(extra, b"{}", "an unknown row has no extras");
        }
        status => {
            let s = row.seconds_since.expect("a seen row has seconds_since");
            assert!(s >= 0.0, "seconds_since {s} is negative (or NaN)");
            let ts = row.last_heartbeat_ts.expect("a seen row has a ts");
            assert!(ts.is_finite(), "ts {ts}");
            let ok = s < reg.ok_window_seconds();
            assert_eq!(status, if ok { Status::Ok } else { Status::Stale }, "s={s}");
            assert!(
                common::valid_json_object(extra),
                "extra is not a JSON object: {:?}",
                String::from_utf8_lossy(extra)
            );
            // Lone surrogates in keys are JSON but not Rust strings: skipped.
            if let Ok(Keys(keys)) = serde_json::from_slice::<Keys>(extra) {
                for (j, k) in keys.iter().enumerate() {
                    assert!(k != "ts" && k != "worker", "extra keeps {k:?}");
                    assert!(!keys[..j].contains(k), "extra repeats {k:?}");
                }
            }
        }
    }
}

struct Harness<'a> {
    reg: Registry,
    clock: ManualClock,
    tally: Tally,
    names: &'a [&'a str],
}

impl Harness<'_> {
    fn op(&mut self, ctl: u8, body: &[u8]) {
        let (mono, wall) = CLOCK_STEPS[usize::from(ctl >> 2 & 7)];
        self.clock.shift(mono, wall);
        let now = self.clock.now();
        let before = view(&self.reg, now);
        let max = self.reg.max_frame_bytes();
        let outcome = match ctl & 3 {
            1 => {
                let k = usize::from(body.first().copied().unwrap_or(0));
                let rest = body.get(1..).unwrap_or_default();
                let (subject, msg) = rest.split_at(k.min(rest.len()));
                let outcome = self.reg.ingest_nats(subject, msg, &self.clock);
                self.expect_nats(subject, msg, outcome);
                outcome
            }
            2 => {
                let p = usize::from(ctl >> 5);
                let worker = self.names.get(p).copied().unwrap_or("intruder");
                let ts = TS[usize::from(body.first().copied().unwrap_or(0) & 7)];
                let payload = body.get(1..).unwrap_or_default();
                let outcome = self.reg.record(worker, ts, payload, &self.clock);
                self.expect_record(worker, ts, payload, outcome);
                outcome
            }
            _ => {
                let outcome = self.reg.ingest(body, &self.clock);
                let _ = frame::control(body);
                if body.len() > max {
                    assert_eq!(outcome, Outcome::Rejected(Reason::TooLarge));
                } else {
                    self.expect_json(body, outcome, true);
                }
                outcome
            }
        };
        self.tally.count(outcome);
        self.tally.check(&self.reg);
        let after = view(&self.reg, now);
        match outcome {
            Outcome::Recorded(i) => {
                assert!(i < self.names.len());
                assert_ne!(after[i].0 .0, Status::Unknown, "a recorded row is seen");
                for (j, (b, a)) in before.iter().zip(&after).enumerate() {
                    if j != i {
                        assert_eq!(b, a, "recording row {i} changed row {j}");
                    }
                }
            }
            _ => assert_eq!(before, after, "{outcome:?} changed a row"),
        }
        for (i, row) in self.reg.rows(now).enumerate() {
            check_row(&self.reg, i, row);
        }
    }

    /// Rules 2 and 3 against the serde_json oracle. `topic_first`: a gateway
    /// frame whose topic is another topic is ignored without its tail read.
    fn expect_json(&self, bytes: &[u8], outcome: Outcome, topic_first: bool) {
        if !common::valid_json(bytes) {
            let allowed = outcome == Outcome::Rejected(Reason::NotJson)
                || (topic_first && outcome == Outcome::Ignored);
            assert!(allowed, "not JSON, yet {outcome:?}");
        } else if !common::valid_json_object(bytes) {
            assert_eq!(outcome, Outcome::Rejected(Reason::NotObject));
        } else {
            assert_ne!(outcome, Outcome::Rejected(Reason::NotJson), "valid JSON");
            assert_ne!(outcome, Outcome::Rejected(Reason::NotObject), "an object");
        }
    }

    fn expect_nats(&self, subject: &[u8], body: &[u8], outcome: Outcome) {
        assert_ne!(outcome, Outcome::Control, "NATS messages are events");
        if body.len() > self.reg.max_frame_bytes() {
            assert_eq!(outcome, Outcome::Rejected(Reason::TooLarge));
            return;
        }
        match topic::health_worker(subject) {
            None => assert_eq!(outcome, Outcome::Ignored, "the subject decides"),
            // The gateway's order: the body's JSON (2, 3) and an envelope's
            // version (4) before the allowlist (7).
            Some(name) if !self.names.iter().any(|n| n.as_bytes() == name) => {
                if !common::valid_json(body) {
                    assert_eq!(outcome, Outcome::Rejected(Reason::NotJson));
                } else if !common::valid_json_object(body) {
                    assert_eq!(outcome, Outcome::Rejected(Reason::NotObject));
                } else {
                    assert!(
                        matches!(
                            outcome,
                            Outcome::Rejected(Reason::UnknownWorker | Reason::UnsupportedVersion)
                        ),
                        "an unknown worker's valid body, yet {outcome:?}"
                    );
                }
            }
            // The subject is the topic: a `topic` in the body decides nothing.
            Some(_) => {
                assert_ne!(outcome, Outcome::Ignored);
                self.expect_json(body, outcome, false);
            }
        }
    }

    fn expect_record(&self, worker: &str, ts: Option<f64>, payload: &[u8], outcome: Outcome) {
        let expected_fail = if !self.names.contains(&worker) {
            Some(Reason::UnknownWorker)
        } else if payload.len() > self.reg.max_frame_bytes() {
            Some(Reason::TooLarge)
        } else if !common::valid_json_object(payload) {
            Some(Reason::BadPayload)
        } else {
            None
        };
        match (expected_fail, outcome) {
            (Some(r), _) => assert_eq!(outcome, Outcome::Rejected(r)),
            (None, Outcome::Recorded(_)) => {
                assert!(ts.is_none_or(f64::is_finite), "recorded with ts {ts:?}")
            }
            (None, Outcome::Rejected(Reason::BadPayload | Reason::BadTs)) => {}
            (None, other) => panic!("record gave {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&setup, mut rest)) = data.split_first() else {
        return;
    };
    let names = ALLOWLISTS[usize::from(setup & 3)];
    let config = Config {
        known_workers: names.iter().map(|s| s.to_string()).collect(),
        ok_window_seconds: WINDOWS[usize::from(setup >> 4 & 3)],
        max_frame_bytes: MAX_FRAME_BYTES[usize::from(setup >> 2 & 3)],
        // Rings from one beat to a few, so they wrap within a run.
        history_length: [1, 3, 5, 30][usize::from(setup >> 6)],
        ..Config::default()
    };
    let mut h = Harness {
        reg: Registry::new(config).expect("a valid allowlist"),
        clock: ManualClock::new(5_000.0, 1_764_190_000_000.0),
        tally: Tally::default(),
        names,
    };
    while let [ctl, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (body, next) = tail.split_at(len);
        h.op(*ctl, body);
        rest = next;
    }
    // The status timer's arithmetic, on whatever state the ops left.
    let now = h.clock.now();
    if let Some(ms) = h.reg.next_expiry_ms(now) {
        // 0 when a row is late and not yet reported: the timer fires at once.
        assert!(ms >= 0.0 && ms.is_finite(), "next expiry {ms}");
    }
    h.reg.expire(now);
    // Each turn is reported once.
    assert!(!h.reg.expire(now).any());
    // Histories: at most historyLength beats, never negative. (Their order
    // follows the larger clock, which a wall clock set back can disturb.)
    for i in 0..h.reg.names().len() {
        let hist = h.reg.history(i, now);
        assert!(hist.beats.len() <= h.reg.history_length());
        assert!(hist.beats.iter().all(|b| *b >= 0.0 && b.is_finite()));
        assert!(hist.cadence_s.is_none_or(|c| c >= 0.0 && c.is_finite()));
        assert_eq!(hist.cadence_s.is_some(), hist.beats.len() >= 3);
    }
    for (i, row) in h.reg.rows(now).enumerate() {
        assert_eq!(row.status == Status::Ok, h.reg.expiry_ms(i, now).is_some());
        let _ = h.reg.stale_at_mono(i);
    }
});
