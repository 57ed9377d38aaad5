//! worker-gateway: the bus gateway of worker-registry. It speaks the JSON
//! gateway protocol (docs/protocol.md, section 2) over a WebSocket, relays a real bus
//! (a DECNET bus daemon, a NATS cluster) or its own in-process one, retains
//! health beats, serves the demo page and can simulate a worker fleet.
//!
//! # Layout
//!
//! * [`config`]: command-line flags, which are also the configuration.
//! * [`topic`]: pure token rules, NATS wildcard matching, the health shape.
//! * [`frame`]: pure client-frame decoding and server-frame encoding.
//! * [`retained`]: the bounded store of the last beat per health topic.
//! * [`bus`]: clients, subscriptions, routing, bounded send queues, and
//!   what the upstream link must hold and tell.
//! * [`decnet`]: pure incremental codec of the DECNET bus framing.
//! * [`upstream`]: the link to a real bus: spec, state, DECNET and NATS
//!   drivers, the pure interest set and relay rules.
//! * [`backoff`]: pure reconnect delays.
//! * [`metrics`]: `GET /metrics` in the Prometheus text format.
//! * [`limit`]: the token bucket behind the publish rate limit.
//! * [`stats`]: the counters behind `GET /admin/stats`.
//! * [`conn`]: one WebSocket client: auth, requests, writer, closing codes.
//! * [`server`]: the HTTP router, the Origin policy, health probes, static
//!   files.
//! * [`admin`]: `/admin/stats` and the `/admin/flood` benchmark socket.
//! * [`flood`]: pure pre-encoded frames for the flood endpoint.
//! * [`sim`]: the simulated fleet, publishing in-process or upstream.
//!
//! The binary (`main.rs`) only parses flags, binds and calls [`run`]; tests
//! bind port 0 and spawn [`run`] themselves.

pub mod admin;
pub mod backoff;
pub mod bus;
pub mod config;
pub mod conn;
pub mod decnet;
pub mod flood;
pub mod frame;
pub mod limit;
pub mod metrics;
pub mod retained;
pub mod server;
pub mod sim;
pub mod stats;
pub mod topic;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;

/// How long shutdown waits for WebSocket clients to finish their closing
/// handshake before `run` returns anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// State every handler and connection shares.
pub struct Shared {
    pub config: Config,
    pub bus: bus::Bus,
    /// Cancelled once, at shutdown; every connection's close token is a child.
    pub shutdown: CancellationToken,
    /// WebSocket tasks, tracked so shutdown can wait for their close frames:
    /// hyper forgets a connection once it is upgraded.
    pub tasks: TaskTracker,
    pub started: Instant,
    /// True once the warm start (`--nats-stream`) has loaded the retained
    /// beats; true from the start without one. `sub`s wait for it.
    pub warm: watch::Sender<bool>,
    /// Events for the upstream publishing link, when there is one.
    outbox: Option<mpsc::Sender<upstream::Outgoing>>,
    /// Stops and starts the simulated workers (`--simulate`).
    pub sim: sim::Control,
}

impl Shared {
    /// Queues an event for the upstream bus; dropped and counted if the
    /// publishing link is that far behind (the bus is at most once anyway).
    pub fn publish_upstream(&self, topic: &str, envelope: String) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        let event = upstream::Outgoing {
            topic: topic.to_owned(),
            envelope,
        };
        if outbox.try_send(event).is_err() {
            stats::Stats::incr(&self.bus.stats.upstream_dropped);
        }
    }

    /// Whether client `pub`s go upstream rather than to the in-process bus.
    pub fn pub_goes_upstream(&self) -> bool {
        self.config.publish_upstream && self.outbox.is_some()
    }

    /// `/readyz`: the upstream is up and the warm start is done.
    pub fn ready(&self) -> bool {
        self.bus.link_up() && *self.warm.borrow()
    }
}

/// Serves the gateway on `listener` until `shutdown` completes, then closes
/// every WebSocket with 1001 "going away" and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config.check().map_err(std::io::Error::other)?;
    let link = match &config.upstream {
        Some(spec) => upstream::Link::upstream(spec, Instant::now()),
        None => upstream::Link::local(Instant::now()),
    };
    let needs_outbox = config.upstream.is_some() && (config.simulate || config.publish_upstream);
    let (outbox, outbox_rx) = if needs_outbox {
        let (tx, rx) = mpsc::channel(upstream::OUTBOX);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let warm_needed =
        matches!(config.upstream, Some(upstream::Spec::Nats(_))) && config.nats_stream.is_some();
    let shared = Arc::new(Shared {
        bus: bus::Bus::with_link(config.queue, link),
        config,
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
        started: Instant::now(),
        warm: watch::Sender::new(!warm_needed),
        outbox,
        sim: sim::Control::default(),
    });

    // Dropped at the end of `run`, which stops the upstream drivers.
    let _upstream = shared
        .config
        .upstream
        .clone()
        .map(|spec| upstream::start(shared.clone(), &spec, outbox_rx));

    // Dropped at the end of `run`, which aborts the simulator's tasks.
    let _simulator = if shared.config.simulate {
        Some(sim::start(shared.clone()).await?)
    } else {
        None
    };

    let token = shared.shutdown.clone();
    let app = server::router(shared.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down");
            token.cancel();
        })
        .await?;

    // `serve` may also return on its own (it does not today); make sure the
    // WebSocket tasks are told either way.
    shared.shutdown.cancel();
    shared.tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, shared.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some WebSocket clients did not close in time");
    }
    Ok(())
}

/// Wall-clock time as unix seconds, the unit of every `ts` on the bus.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
