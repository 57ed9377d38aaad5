//! The simulated fleet (`--simulate`): one task per beating worker, a rogue
//! publisher and steady non-health traffic, published into the in-process
//! bus or, with `--upstream`, to the upstream bus (DECNET `PUB`s or NATS).

pub mod fleet;

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use serde_json::{Map, Value};
use tokio::task::JoinSet;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::frame::{default_kind, envelope};
use crate::{unix_now, Shared};
use fleet::{Worker, WORKERS};

/// The worker that never starts, so a panel shows one `unknown` row.
pub const NEVER_STARTS: &str = "updater";
/// The worker that stops after `--silent-after` beats and turns `stale`.
pub const GOES_SILENT: &str = "forwarder";
/// A publisher that is not on the allowlist; a registry must ignore it.
pub const INTRUDER: &str = "intruder";
/// `attacker.observed` events per beat interval.
const EVENTS_PER_INTERVAL: u32 = 5;

/// Where the fleet publishes.
enum Sink {
    Bus(Arc<Shared>),
    Upstream(Arc<Shared>),
}

impl Sink {
    async fn publish(&self, topic: &str, payload: Map<String, Value>) {
        let body = envelope(
            rand::random(),
            topic,
            default_kind(topic),
            unix_now(),
            &payload,
        );
        match self {
            Sink::Bus(shared) => shared.bus.publish(topic, body),
            Sink::Upstream(shared) => shared.publish_upstream(topic, body),
        }
    }
}

/// Starts the fleet. The returned set owns every task: dropping it stops
/// the simulation.
pub async fn start(shared: Arc<Shared>) -> std::io::Result<JoinSet<()>> {
    let config = &shared.config;
    let period = Duration::from_secs_f64(config.interval);
    let sink = Arc::new(match &config.upstream {
        Some(_) => Sink::Upstream(shared.clone()),
        None => Sink::Bus(shared.clone()),
    });

    let beating: Vec<&'static str> = WORKERS
        .iter()
        .copied()
        .filter(|w| *w != NEVER_STARTS)
        .chain([INTRUDER])
        .collect();
    if config.announce {
        let target = config
            .upstream
            .as_ref()
            .map_or("the in-process bus".to_string(), |u| u.display());
        println!(
            "simulating {} workers every {}s on {target}: {}; {NEVER_STARTS} never starts, \
             {GOES_SILENT} goes silent after {} beats, {INTRUDER} is a rogue publisher; \
             plus attacker.observed x{EVENTS_PER_INTERVAL} and system.api.metrics per interval",
            beating.len() - 1,
            config.interval,
            beating[..beating.len() - 1].join(" "),
            config.silent_after,
        );
    }

    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let mut rng: SmallRng = rand::make_rng();
    for (i, name) in beating.iter().copied().enumerate() {
        // First beats spread over the first tenth of an interval: a fresh
        // demo turns ok within moments, without ten beats in one instant.
        let offset = period.mul_f64(0.1 * i as f64 / beating.len() as f64);
        let limit = (name == GOES_SILENT).then_some(config.silent_after);
        let worker = Worker::new(name, &mut rng);
        tasks.spawn(beat_loop(
            sink.clone(),
            worker,
            start + offset,
            period,
            limit,
        ));
    }
    tasks.spawn(traffic_loop(sink, start, period));
    Ok(tasks)
}

/// Beats every `period` from `first`; with a `limit`, stops after that many.
async fn beat_loop(
    sink: Arc<Sink>,
    mut worker: Worker,
    first: Instant,
    period: Duration,
    limit: Option<u32>,
) {
    let mut rng: SmallRng = rand::make_rng();
    let started = Instant::now();
    let topic = worker.topic();
    let mut ticks = interval_at(first, period);
    // After a stall, keep the rhythm instead of bursting to catch up.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sent = 0u32;
    loop {
        ticks.tick().await;
        if limit.is_some_and(|l| sent >= l) {
            tracing::info!("simulated {} goes silent after {sent} beats", worker.name);
            return;
        }
        let payload = worker.beat(unix_now(), started.elapsed().as_secs_f64(), &mut rng);
        sink.publish(&topic, payload).await;
        sent += 1;
    }
}

/// Non-health traffic: a few `attacker.observed` events per interval and
/// one `system.api.metrics`, the noise a registry must skip cheaply.
async fn traffic_loop(sink: Arc<Sink>, start: Instant, period: Duration) {
    let mut rng: SmallRng = rand::make_rng();
    let step = period / EVENTS_PER_INTERVAL;
    let mut ticks = interval_at(start + step / 2, step);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for n in 0u64.. {
        ticks.tick().await;
        let event = fleet::attacker_observed(unix_now(), &mut rng);
        sink.publish("attacker.observed", event).await;
        if n % u64::from(EVENTS_PER_INTERVAL) == 0 {
            let metrics = fleet::api_metrics(unix_now(), &mut rng);
            sink.publish("system.api.metrics", metrics).await;
        }
    }
}
