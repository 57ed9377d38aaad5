//! Parity with the original: for live beats (each `ts` equal to its arrival,
//! as when worker and server clocks agree) the browser registry gives the
//! same rows as the original Python module, run as-is with its imports
//! stubbed (`tests/parity/oracle.py`).
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use worker_registry::clock::{Clock, ManualClock};
use worker_registry::registry::{Config, Registry, Status, DEFAULT_KNOWN_WORKERS};

/// A small deterministic generator, so a failure names a reproducible seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const T0: f64 = 1_764_190_000.0;

fn scenario(seed: u64) -> Vec<Value> {
    let mut rng = Lcg(seed);
    let mut at = T0;
    let mut steps = Vec::new();
    for _ in 0..60 {
        // Gaps from a fraction of a second to past the 90 s window.
        at += [0.25, 1.0, 7.5, 29.0, 45.0, 89.0, 91.5, 200.0][rng.below(8) as usize];
        let topic = match rng.below(10) {
            0 => "system.intruder.health".to_string(),
            1 => "attacker.observed".to_string(),
            2 => "system.api.metrics".to_string(),
            _ => format!(
                "system.{}.health",
                DEFAULT_KNOWN_WORKERS[rng.below(10) as usize]
            ),
        };
        let worker = topic.split('.').nth(1).unwrap_or("x").to_string();
        let mut payload = json!({"worker": worker, "ts": at});
        if rng.below(2) == 0 {
            payload["pid"] = json!(rng.below(40_000));
        }
        if rng.below(3) == 0 {
            payload["realism"] =
                json!({"llm_enabled": rng.below(2) == 0, "llm_breaker_state": "closed"});
        }
        if rng.below(4) == 0 {
            payload["queue_depth"] = json!(rng.below(100) as f64 / 4.0);
        }
        steps.push(json!({"at": at, "topic": topic, "payload": payload}));
        if rng.below(3) == 0 {
            at += [0.0, 10.0, 60.0, 95.0][rng.below(4) as usize];
            steps.push(json!({"at": at, "snapshot": true}));
        }
    }
    steps.push(json!({"at": at + 1.0, "snapshot": true}));
    steps
}

fn original(steps: &[Value]) -> Option<Vec<Value>> {
    let mut child = match Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/parity/oracle.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        // A missing python3 fails the test: it must never pass unrun.
        Err(e) => panic!(
            "the parity test runs the original Python module and needs python3 \
             (apt-get install python3): {e}"
        ),
    };
    let input = json!({ "steps": steps }).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the oracle failed");
    serde_json::from_slice(&out.stdout).expect("oracle output is JSON")
}

fn ours(steps: &[Value]) -> Vec<Value> {
    let clock = ManualClock::new(0.0, T0 * 1000.0);
    let mut r = Registry::new(Config::default()).unwrap();
    let mut t = T0;
    let mut snapshots = Vec::new();
    for step in steps {
        let at = step["at"].as_f64().unwrap();
        clock.advance(at - t);
        t = at;
        if step.get("snapshot").is_some() {
            let rows: Vec<Value> = r
                .rows(clock.now())
                .enumerate()
                .map(|(i, row)| {
                    json!({
                        "name": r.names()[i],
                        "status": row.status.as_str(),
                        "last_heartbeat_ts": row.last_heartbeat_ts,
                        "seconds_since": row.seconds_since,
                        "extra": if row.status == Status::Unknown { json!({}) } else { serde_json::from_slice::<Value>(r.extra(i)).unwrap() },
                    })
                })
                .collect();
            snapshots.push(Value::Array(rows));
        } else {
            let frame = json!({"v": 1, "id": "ab", "topic": step["topic"], "type": "health", "ts": at, "payload": step["payload"]});
            r.ingest(frame.to_string().as_bytes(), &clock);
        }
    }
    snapshots
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        // Seconds are carried as milliseconds on our side: allow rounding.
        (Some(x), Some(y)) => (x - y).abs() < 1e-6,
        _ => a == b,
    }
}

#[test]
fn live_beats_give_the_originals_rows() {
    let mut compared = 0;
    for seed in 1..=40u64 {
        let steps = scenario(seed);
        let Some(theirs) = original(&steps) else {
            return;
        };
        let mine = ours(&steps);
        assert_eq!(theirs.len(), mine.len());
        for (snap, (a, b)) in theirs.iter().zip(&mine).enumerate() {
            for (ra, rb) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
                for key in [
                    "name",
                    "status",
                    "last_heartbeat_ts",
                    "seconds_since",
                    "extra",
                ] {
                    assert!(
                        close(&ra[key], &rb[key]),
                        "seed {seed}, snapshot {snap}, {key}: original {} vs ours {}",
                        ra,
                        rb
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "compared {compared} rows");
}
