//! The simulated fleet (`--simulate`): one task per worker, a rogue
//! publisher and steady non-health traffic, published into the in-process
//! bus or, with `--upstream`, to the upstream bus (DECNET `PUB`s or NATS). Each worker can be
//! stopped and started ([`Control`], `POST /admin/sim/{worker}/{stop|start}`).

pub mod fleet;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use rand::rngs::SmallRng;
use serde_json::{Map, Value};
use tokio::task::JoinSet;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::frame::{default_kind, envelope};
use crate::{unix_now, Shared};
use fleet::{slowing_gap, Worker, SLOWING, WORKERS};

/// The worker that never starts, so a panel shows one `unknown` row.
pub const NEVER_STARTS: &str = "updater";
/// The worker that stops after `--silent-after` beats and turns `stale`.
pub const GOES_SILENT: &str = "forwarder";
/// A publisher that is not on the allowlist; a registry must ignore it.
pub const INTRUDER: &str = "intruder";
/// `attacker.observed` events per beat interval.
const EVENTS_PER_INTERVAL: u32 = 5;

/// One worker's switch: stopped workers skip their beats; starting one
/// makes it beat at once.
#[derive(Debug, Default)]
struct Switch {
    stopped: AtomicBool,
    wake: Notify,
}

/// Stops and starts the simulated workers; shared by the fleet's tasks and
/// the admin endpoint. Holds every allowlisted worker, running or not (and
/// the intruder, which cannot be switched).
#[derive(Debug)]
pub struct Control {
    workers: HashMap<&'static str, Switch>,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            workers: WORKERS
                .iter()
                .chain(&[INTRUDER])
                .map(|w| (*w, Switch::default()))
                .collect(),
        }
    }
}

impl Control {
    /// Stops or starts `worker`; `None` when it is not a simulated worker.
    /// Returns whether it is running now.
    pub fn set_running(&self, worker: &str, running: bool) -> Option<bool> {
        // The rogue publisher is not the fleet's to control.
        let switch = self.workers.get(worker).filter(|_| worker != INTRUDER)?;
        let was_stopped = switch.stopped.swap(!running, Ordering::SeqCst);
        if running && was_stopped {
            switch.wake.notify_one();
        }
        Some(running)
    }

    /// Whether `worker` beats (false for names that are not simulated).
    pub fn is_running(&self, worker: &str) -> bool {
        self.workers
            .get(worker)
            .is_some_and(|s| !s.stopped.load(Ordering::SeqCst))
    }
}

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
    // updater has a task too, stopped until someone starts it.
    shared.sim.set_running(NEVER_STARTS, false);
    if config.announce {
        let target = config
            .upstream
            .as_ref()
            .map_or("the in-process bus".to_string(), |u| u.display());
        println!(
            "simulating {} workers every {}s on {target}: {}; {NEVER_STARTS} never starts, \
             {GOES_SILENT} goes silent after {} beats, {SLOWING} beats irregularly and slows \
             down now and then, {INTRUDER} is a rogue publisher; \
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
    for (i, name) in beating.iter().copied().chain([NEVER_STARTS]).enumerate() {
        // First beats spread over the first tenth of an interval: a fresh
        // demo turns ok within moments, without ten beats in one instant.
        let offset = period.mul_f64(0.1 * i as f64 / beating.len() as f64);
        let limit = (name == GOES_SILENT).then_some(config.silent_after);
        let worker = Worker::new(name, &mut rng);
        tasks.spawn(beat_loop(
            sink.clone(),
            shared.clone(),
            worker,
            start + offset,
            period,
            limit,
        ));
    }
    tasks.spawn(traffic_loop(sink, start, period));
    Ok(tasks)
}

/// Beats every `period` from `first` (the slowing worker at its irregular
/// gaps); with a `limit`, stops itself after that many. A stopped worker
/// skips its beats; started again, it beats at once and keeps going.
async fn beat_loop(
    sink: Arc<Sink>,
    shared: Arc<Shared>,
    mut worker: Worker,
    first: Instant,
    period: Duration,
    limit: Option<u32>,
) {
    let control = &shared.sim;
    let mut rng: SmallRng = rand::make_rng();
    let started = Instant::now();
    let topic = worker.topic();
    let slowing = worker.name == SLOWING;
    let Some(switch) = control.workers.get(worker.name) else {
        return;
    };
    let mut next = first;
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = switch.wake.notified() => {}
        }
        // After a stall (or a start), the rhythm resumes from now instead of
        // bursting to catch up.
        let gap = if slowing { slowing_gap(sent) } else { 1.0 };
        next = Instant::now() + period.mul_f64(gap);
        if limit.is_some_and(|l| sent == u64::from(l)) {
            tracing::info!("simulated {} goes silent after {sent} beats", worker.name);
            control.set_running(worker.name, false);
            sent += 1; // silent once; started again, it beats on
        }
        if !control.is_running(worker.name) {
            continue;
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
