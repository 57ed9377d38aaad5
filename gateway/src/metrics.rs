//! `GET /metrics`: the gateway's counters in the OpenMetrics text format,
//! encoded by prometheus-client from the atomics `/admin/stats` reads, so
//! there is one source of truth.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::Shared;

/// The content type of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g = Gauge::<i64, AtomicI64>::default();
    g.set(value);
    registry.register(name, help, g);
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64, AtomicU64>::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// Renders every metric. A fresh registry per scrape: scrapes are seconds
/// apart and the set is small, and it keeps the hot paths on plain atomics.
pub fn render(shared: &Shared) -> String {
    let bus = &shared.bus;
    let stats = &bus.stats;
    let link = bus.link();
    let load = |c: &AtomicU64| c.load(Relaxed);
    let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);

    let mut r = Registry::with_prefix("worker_gateway");
    gauge(
        &mut r,
        "connections",
        "WebSocket clients connected now",
        signed(load(&stats.connections)),
    );
    gauge(
        &mut r,
        "subscriptions",
        "Client subscriptions held now",
        signed(load(&stats.subscriptions)),
    );
    gauge(
        &mut r,
        "retained_topics",
        "Health topics whose last beat is retained",
        signed(bus.retained_topics() as u64),
    );
    counter(
        &mut r,
        "connections_opened",
        "WebSocket clients accepted since start",
        load(&stats.total_connections),
    );
    counter(
        &mut r,
        "published",
        "Events routed to clients (relayed, simulated or published)",
        load(&stats.published),
    );
    counter(
        &mut r,
        "relayed",
        "Events received from the upstream bus",
        load(&stats.relayed),
    );
    counter(
        &mut r,
        "upstream_bad_frames",
        "Upstream frames or events that could not be used",
        load(&stats.upstream_bad_frames),
    );
    counter(
        &mut r,
        "upstream_published",
        "Events published to the upstream bus",
        load(&stats.upstream_published),
    );
    counter(
        &mut r,
        "upstream_dropped",
        "Events for the upstream bus dropped because its link was behind",
        load(&stats.upstream_dropped),
    );
    counter(
        &mut r,
        "dropped_clients",
        "Clients closed as slow consumers (their queued frames dropped)",
        load(&stats.dropped_clients),
    );
    counter(
        &mut r,
        "shed",
        "Client publishes dropped by the rate limit",
        load(&stats.shed),
    );
    counter(
        &mut r,
        "auth_failures",
        "Clients closed as unauthorized",
        load(&stats.auth_failures),
    );
    counter(
        &mut r,
        "refused_subscriptions",
        "Subscriptions refused as outside what clients may read",
        load(&stats.refused_subs),
    );
    gauge(
        &mut r,
        "upstream_up",
        "1 while the link to the bus is up (always 1 without an upstream)",
        i64::from(link.state == "up"),
    );
    counter(
        &mut r,
        "upstream_reconnects",
        "Times the upstream link came back after a loss",
        link.reconnects,
    );
    gauge(
        &mut r,
        "ready",
        "1 while /readyz answers 200",
        i64::from(shared.ready()),
    );
    r.register(
        "upstream",
        "The kind of upstream bus",
        Info::new(vec![("kind".to_string(), link.kind.to_string())]),
    );

    let mut out = String::new();
    if let Err(e) = encode(&mut out, &r) {
        // Writing to a String does not fail; say so in the output if it did.
        return format!("# encoding failed: {e}\n# EOF\n");
    }
    out
}
