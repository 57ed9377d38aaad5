//! worker-gateway: the development bus gateway of worker-registry. It speaks
//! the JSON gateway protocol (PROTOCOL.md) over a WebSocket, retains health
//! beats, serves the demo page and can simulate a worker fleet.
//!
//! # Layout
//!
//! * [`config`]: command-line flags, which are also the configuration.
//! * [`topic`]: pure token rules, NATS wildcard matching, the health shape.
//! * [`frame`]: pure client-frame decoding and server-frame encoding.
//! * [`retained`]: the bounded store of the last beat per health topic.
//! * [`bus`]: clients, subscriptions, routing, bounded send queues.
//! * [`limit`]: the token bucket behind the publish rate limit.
//! * [`stats`]: the counters behind `GET /admin/stats`.
//! * [`conn`]: one WebSocket client: auth, requests, writer, closing codes.
//! * [`server`]: the HTTP router, the Origin policy, static files.
//! * [`admin`]: `/admin/stats` and the `/admin/flood` benchmark socket.
//! * [`flood`]: pure pre-encoded frames for the flood endpoint.
//! * [`sim`]: the simulated fleet, publishing in-process or to NATS.
//!
//! The binary (`main.rs`) only parses flags, binds and calls [`run`]; tests
//! bind port 0 and spawn [`run`] themselves.

pub mod admin;
pub mod bus;
pub mod config;
pub mod conn;
pub mod flood;
pub mod frame;
pub mod limit;
pub mod retained;
pub mod server;
pub mod sim;
pub mod stats;
pub mod topic;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
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
    /// Stops and starts the simulated workers (`--simulate`).
    pub sim: sim::Control,
}

/// Serves the gateway on `listener` until `shutdown` completes, then closes
/// every WebSocket with 1001 "going away" and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        bus: bus::Bus::new(config.queue),
        config,
        shutdown: CancellationToken::new(),
        tasks: TaskTracker::new(),
        started: Instant::now(),
        sim: sim::Control::default(),
    });

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
