//! A tight loop of known-worker beats through the pure core, for profilers:
//! `cargo build --release --example beat_loop` then run it under perf or
//! callgrind.
use worker_registry::clock::ManualClock;
use worker_registry::registry::{Config, Registry};

fn main() {
    let beat = r#"{"v":1,"id":"5f1c2a9e0b7d4c31","topic":"system.collector.health","type":"health","ts":1764190123.456,"payload":{"worker":"collector","pid":18231,"uptime_s":523211,"queue_depth":12,"version":"1.4.2","ts":1764190123.456}}"#;
    let clock = ManualClock::new(0.0, 0.0);
    let mut r = Registry::new(Config::default()).unwrap();
    for _ in 0..3_000_000 {
        std::hint::black_box(r.ingest(std::hint::black_box(beat.as_bytes()), &clock));
    }
}
