//! Gateway counters, updated lock-free from every connection and read by
//! `GET /admin/stats`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

#[derive(Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub subscriptions: AtomicU64,
    pub published: AtomicU64,
    pub dropped_clients: AtomicU64,
    /// Frames not delivered to a client: its queue was full, or it was
    /// already being closed as a slow consumer.
    pub dropped_frames: AtomicU64,
    pub total_connections: AtomicU64,
    pub auth_failures: AtomicU64,
    pub shed: AtomicU64,
    /// Events received from the upstream bus and relayed.
    pub relayed: AtomicU64,
    /// Upstream frames or events that could not be used (framing errors,
    /// bodies that are not JSON objects, bad topics).
    pub upstream_bad_frames: AtomicU64,
    /// Events published upstream (the simulator, `--publish-upstream`).
    pub upstream_published: AtomicU64,
    /// Events dropped because the upstream publishing link was behind.
    pub upstream_dropped: AtomicU64,
    /// `sub`s refused because the pattern is not allowed.
    pub refused_subs: AtomicU64,
}

/// What `/admin/stats` returns. Gauges are "now"; the rest count since start.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub connections: u64,
    pub subscriptions: u64,
    pub retained_topics: u64,
    pub published: u64,
    pub dropped_clients: u64,
    pub dropped_frames: u64,
    pub total_connections: u64,
    pub auth_failures: u64,
    pub shed: u64,
    pub relayed: u64,
    pub upstream_bad_frames: u64,
    pub upstream_published: u64,
    pub upstream_dropped: u64,
    pub refused_subs: u64,
    pub uptime_s: f64,
}

impl Stats {
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Relaxed);
    }

    pub fn snapshot(&self, retained_topics: usize, uptime_s: f64) -> Snapshot {
        Snapshot {
            connections: self.connections.load(Relaxed),
            subscriptions: self.subscriptions.load(Relaxed),
            retained_topics: retained_topics as u64,
            published: self.published.load(Relaxed),
            dropped_clients: self.dropped_clients.load(Relaxed),
            dropped_frames: self.dropped_frames.load(Relaxed),
            total_connections: self.total_connections.load(Relaxed),
            auth_failures: self.auth_failures.load(Relaxed),
            shed: self.shed.load(Relaxed),
            relayed: self.relayed.load(Relaxed),
            upstream_bad_frames: self.upstream_bad_frames.load(Relaxed),
            upstream_published: self.upstream_published.load(Relaxed),
            upstream_dropped: self.upstream_dropped.load(Relaxed),
            refused_subs: self.refused_subs.load(Relaxed),
            uptime_s: (uptime_s * 1000.0).round() / 1000.0,
        }
    }
}
