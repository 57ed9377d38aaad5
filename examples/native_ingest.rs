//! Times the pure core natively on the benchmark's kind of frames (no
//! browser, no copying): `cargo run --release --example native_ingest`.
use std::time::Instant as T;
use worker_registry::clock::ManualClock;
use worker_registry::registry::{Config, Registry};
use worker_registry::session::{Loaded, Session};

fn main() {
    let beat = r#"{"v":1,"id":"5f1c2a9e0b7d4c31","topic":"system.collector.health","type":"health","ts":1764190123.456,"payload":{"worker":"collector","pid":18231,"uptime_s":523211,"queue_depth":12,"version":"1.4.2","ts":1764190123.456}}"#;
    let other = r#"{"v":1,"id":"5f1c2a9e0b7d4c31","topic":"attacker.observed","type":"observed","ts":1764190123.456,"payload":{"src_ip":"203.0.113.17","port":2222,"service":"ssh","session":"9a8b7c6d","bytes":48213,"ts":1764190123.456}}"#;
    let clock = ManualClock::new(0.0, 0.0);
    for (name, frame) in [("beat", beat), ("other", other)] {
        let mut r = Registry::new(Config::default()).unwrap();
        let n = 2_000_000;
        let t = T::now();
        for _ in 0..n {
            std::hint::black_box(r.ingest(std::hint::black_box(frame.as_bytes()), &clock));
        }
        println!(
            "{name}: {} bytes, {:.0} ns/frame",
            frame.len(),
            t.elapsed().as_nanos() as f64 / n as f64
        );
        // The same frames through the session, its actions drained as the
        // browser shell drains them: the shell's share of the work, minus JS.
        let mut s = Session::new(Registry::new(Config::default()).unwrap(), 7);
        let t = T::now();
        for _ in 0..n {
            let frame = Loaded::Bytes(std::hint::black_box(frame.as_bytes()));
            std::hint::black_box(s.ingest(frame, &clock));
            while let Some(a) = s.poll() {
                std::hint::black_box(a);
            }
        }
        println!(
            "  through the session: {:.0} ns/frame",
            t.elapsed().as_nanos() as f64 / n as f64
        );
        let t = T::now();
        for _ in 0..n {
            std::hint::black_box(
                worker_registry::json::validate(std::hint::black_box(frame.as_bytes())).is_ok(),
            );
        }
        println!(
            "  validate only: {:.0} ns/frame",
            t.elapsed().as_nanos() as f64 / n as f64
        );
        let t = T::now();
        for _ in 0..n {
            std::hint::black_box(
                serde_json::from_slice::<serde_json::Value>(std::hint::black_box(frame.as_bytes()))
                    .is_ok(),
            );
        }
        println!(
            "  serde_json Value: {:.0} ns/frame",
            t.elapsed().as_nanos() as f64 / n as f64
        );
    }
}
