//! Pure: the simulated fleet's workers and the payloads they publish. Time
//! and randomness come in as arguments, so the payloads are unit-tested.

use rand::RngExt;
use serde_json::{json, Map, Value};

/// The default allowlist (docs/contract.md, section 5), in its order.
pub const WORKERS: [&str; 10] = [
    "api",
    "bus",
    "collector",
    "profiler",
    "sniffer",
    "prober",
    "mutator",
    "agent",
    "forwarder",
    "updater",
];

/// The worker whose beats are irregular and now and then slow down: its
/// gaps cycle through [`SLOWING_GAPS`], so a panel sees it turn late (silent
/// for more than twice its usual gap) and come back, without turning stale.
pub const SLOWING: &str = "prober";

/// The slowing worker's gaps, in beat periods, one cycle: jitter around the
/// period, then a slowdown whose longest gap (2.7) is past twice the median
/// (1.0) and short of an ok window of three periods.
pub const SLOWING_GAPS: [f64; 9] = [1.0, 0.8, 1.0, 0.9, 1.1, 1.0, 1.3, 1.7, 2.7];

/// The gap before beat number `n` (from 0) of the slowing worker, in periods.
pub fn slowing_gap(n: u64) -> f64 {
    SLOWING_GAPS[(n % SLOWING_GAPS.len() as u64) as usize]
}

/// Workers that report a queue depth (the ones that buffer work).
const QUEUED: [&str; 4] = ["bus", "collector", "sniffer", "forwarder"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    Closed,
    HalfOpen,
    Open,
}

impl Breaker {
    fn as_str(self) -> &'static str {
        match self {
            Breaker::Closed => "closed",
            Breaker::HalfOpen => "half_open",
            Breaker::Open => "open",
        }
    }

    /// Now and then the LLM backend fails: closed trips to open, open waits
    /// one beat then probes (half_open), a probe usually succeeds.
    fn step(self, rng: &mut impl RngExt) -> Breaker {
        match self {
            Breaker::Closed if rng.random_bool(0.08) => Breaker::Open,
            Breaker::Closed => Breaker::Closed,
            Breaker::Open => Breaker::HalfOpen,
            Breaker::HalfOpen if rng.random_bool(0.7) => Breaker::Closed,
            Breaker::HalfOpen => Breaker::Open,
        }
    }
}

/// One simulated worker and the state its beats carry.
#[derive(Debug, Clone)]
pub struct Worker {
    pub name: &'static str,
    pid: u32,
    version: String,
    /// Uptime at simulation start, so the fleet does not look freshly booted.
    uptime_base: f64,
    queue_depth: Option<i64>,
    llm: Option<Breaker>,
    llm_disabled: bool,
}

impl Worker {
    pub fn new(name: &'static str, rng: &mut impl RngExt) -> Worker {
        Worker {
            name,
            pid: rng.random_range(1200..=65_000),
            version: format!("1.{}.{}", rng.random_range(0..=9), rng.random_range(0..=20)),
            uptime_base: f64::from(rng.random_range(60..=172_800)),
            queue_depth: QUEUED.contains(&name).then(|| rng.random_range(0..=40)),
            llm: (name == "agent").then_some(Breaker::Closed),
            llm_disabled: name == "mutator",
        }
    }

    pub fn topic(&self) -> String {
        format!("system.{}.health", self.name)
    }

    /// The next beat's payload: `ts` is the wall clock, `elapsed_s` the time
    /// since the simulation started.
    pub fn beat(&mut self, ts: f64, elapsed_s: f64, rng: &mut impl RngExt) -> Map<String, Value> {
        let uptime = ((self.uptime_base + elapsed_s) * 10.0).round() / 10.0;
        let mut p = object(json!({
            "worker": self.name, "ts": ts, "pid": self.pid, "uptime_s": uptime, "version": self.version,
        }));
        if let Some(depth) = self.queue_depth.as_mut() {
            *depth = (*depth + rng.random_range(-5..=5)).clamp(0, 500);
            p.insert("queue_depth".into(), (*depth).into());
        }
        if let Some(breaker) = self.llm.as_mut() {
            *breaker = breaker.step(rng);
            p.insert(
                "realism".into(),
                json!({
                    "llm_enabled": true, "llm_backend": "ollama", "llm_model": "llama3.1:8b",
                    "llm_breaker_state": breaker.as_str(),
                }),
            );
        } else if self.llm_disabled {
            p.insert("realism".into(), json!({ "llm_enabled": false }));
        }
        p
    }
}

/// An `attacker.observed` event, as a sensor would report a probe.
pub fn attacker_observed(ts: f64, rng: &mut impl RngExt) -> Map<String, Value> {
    const SERVICES: [(u16, &str); 8] = [
        (22, "ssh"),
        (23, "telnet"),
        (80, "http"),
        (443, "https"),
        (445, "smb"),
        (3389, "rdp"),
        (5900, "vnc"),
        (6379, "redis"),
    ];
    // Documentation address ranges (RFC 5737): realistic, never a real host.
    const NETS: [&str; 3] = ["192.0.2", "198.51.100", "203.0.113"];
    let (port, service) = SERVICES[rng.random_range(0..SERVICES.len())];
    let net = NETS[rng.random_range(0..NETS.len())];
    object(json!({
        "src_ip": format!("{net}.{}", rng.random_range(1..=254)),
        "src_port": rng.random_range(1024..=65_535),
        "port": port, "service": service, "sensor": "sniffer", "ts": ts,
    }))
}

/// The api worker's metrics event on `system.api.metrics`: four tokens, so
/// never mistaken for a beat.
pub fn api_metrics(ts: f64, rng: &mut impl RngExt) -> Map<String, Value> {
    object(json!({
        "worker": "api", "ts": ts,
        "requests_per_s": (rng.random_range(5.0..80.0_f64) * 10.0).round() / 10.0,
        "p95_ms": rng.random_range(8..=120),
        "open_connections": rng.random_range(1..=64),
    }))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn beats_look_real() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut agent = Worker::new("agent", &mut rng);
        let first = agent.beat(100.0, 0.0, &mut rng);
        let later = agent.beat(130.0, 30.0, &mut rng);
        assert_eq!(first["worker"], "agent");
        assert_eq!(first["pid"], later["pid"], "pid is stable");
        assert!(later["uptime_s"].as_f64() > first["uptime_s"].as_f64());
        assert_eq!(first["realism"]["llm_model"], "llama3.1:8b");
        assert!(first.get("queue_depth").is_none());

        let mut mutator = Worker::new("mutator", &mut rng);
        assert_eq!(
            mutator.beat(1.0, 0.0, &mut rng)["realism"],
            json!({ "llm_enabled": false })
        );
        let mut collector = Worker::new("collector", &mut rng);
        assert!(collector.beat(1.0, 0.0, &mut rng)["queue_depth"].is_i64());
    }

    #[test]
    fn breaker_moves_and_recovers() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut agent = Worker::new("agent", &mut rng);
        let states: Vec<String> = (0..400)
            .map(|i| {
                let p = agent.beat(f64::from(i), f64::from(i), &mut rng);
                p["realism"]["llm_breaker_state"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        for state in ["closed", "half_open", "open"] {
            assert!(states.iter().any(|s| s == state), "never {state}");
        }
        let closed = states.iter().filter(|s| *s == "closed").count();
        assert!(closed > 200, "mostly closed, was {closed}/400");
    }

    #[test]
    fn the_slowing_worker_is_late_now_and_then_but_never_stale() {
        let mut gaps = SLOWING_GAPS.to_vec();
        gaps.sort_by(f64::total_cmp);
        let median = gaps[gaps.len() / 2];
        assert_eq!(median, 1.0);
        let longest = gaps[gaps.len() - 1];
        // Late (the registry's default lateFactor is 2) for a good part of a
        // period, and well within the demo's window of three periods.
        assert!(longest > 2.0 * median + 0.5 && longest < 3.0 * median - 0.25);
        assert_eq!(slowing_gap(8), 2.7);
        assert_eq!(slowing_gap(9), 1.0);
    }

    #[test]
    fn other_traffic_is_not_health_shaped() {
        let mut rng = SmallRng::seed_from_u64(3);
        let event = attacker_observed(1.0, &mut rng);
        assert!(event["src_ip"]
            .as_str()
            .is_some_and(|ip| ip.split('.').count() == 4));
        assert!(event["port"].is_u64());
        assert!(api_metrics(1.0, &mut rng)["p95_ms"].is_i64());
    }
}
