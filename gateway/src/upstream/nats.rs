//! The NATS driver (async-nats): failover across the listed servers and
//! re-subscription after reconnects, and the warm start that loads the last
//! beat of each health subject, with its age, from a JetStream stream.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::interest::diff;
use super::relay::relay as normalise;
use super::Outgoing;
use crate::bus::RETAIN_PATTERN;
use crate::stats::Stats;
use crate::topic::Pattern;
use crate::{backoff, unix_now, Shared};

/// How long one JetStream request of the warm start may take.
const JS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the stream `--nats-create-stream` makes keeps a beat.
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Options shared by both connections: credentials, our backoff, no limit
/// on reconnects, and a start that does not wait for a server to be up.
fn options(shared: &Shared, name: &str) -> async_nats::ConnectOptions {
    let config = &shared.config;
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            backoff::delay(u32::try_from(attempts).unwrap_or(u32::MAX), rand::random())
        });
    if let (Some(user), Some(pass)) = (&config.nats_user, &config.nats_pass) {
        options = options.user_and_password(user.clone(), pass.clone());
    }
    if let Some(token) = &config.nats_token {
        options = options.token(token.clone());
    }
    options
}

/// The relaying connection: follows the wanted patterns, relays messages,
/// reports the link's state, and runs the warm start.
pub async fn relay(shared: Arc<Shared>, urls: Vec<String>) {
    let events = shared.clone();
    let options = options(&shared, "worker-gateway").event_callback(move |event| {
        let shared = events.clone();
        async move {
            match event {
                async_nats::Event::Connected => shared.bus.set_link(true, None),
                async_nats::Event::Disconnected => {
                    shared
                        .bus
                        .set_link(false, Some("disconnected from the NATS server".into()));
                }
                async_nats::Event::ServerError(e) => {
                    tracing::warn!("nats server error: {e}");
                }
                other => tracing::info!("nats: {other}"),
            }
        }
    });
    let client = match options.connect(urls.as_slice()).await {
        Ok(client) => client,
        Err(e) => {
            // Only a malformed URL gets here (the first connection is retried).
            shared
                .bus
                .set_link(false, Some(format!("cannot use {}: {e}", urls.join(","))));
            tracing::error!("--upstream {}: {e}", urls.join(","));
            return;
        }
    };

    let mut wanted = shared.bus.wanted();
    let mut subs = Subscriptions::new(client.clone(), shared.clone());
    let first = wanted.borrow_and_update().clone();
    subs.apply(&first).await;

    let warm = async {
        if let Some(name) = shared.config.nats_stream.clone() {
            // The live subscription is in place first (the flush proves the
            // server has it), so no beat falls between what the stream
            // holds and what arrives live.
            let _ = client.flush().await;
            warm_start(&shared, &client, &name).await;
        }
        shared.warm.send_replace(true);
        std::future::pending::<()>().await
    };
    tokio::pin!(warm);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = &mut warm => {}
            changed = wanted.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = wanted.borrow_and_update().clone();
                subs.apply(&now).await;
            }
        }
    }
    subs.clear();
    let _ = client.drain().await;
}

/// The subscriptions held, one forwarding task each. NATS sends a message
/// once per matching subscription, so each is relayed only by the first
/// held pattern (in sorted order) that matches it.
struct Subscriptions {
    client: async_nats::Client,
    shared: Arc<Shared>,
    tasks: HashMap<String, JoinHandle<()>>,
    held: Arc<RwLock<Vec<Pattern>>>,
}

impl Subscriptions {
    fn new(client: async_nats::Client, shared: Arc<Shared>) -> Subscriptions {
        Subscriptions {
            client,
            shared,
            tasks: HashMap::new(),
            held: Arc::new(RwLock::new(Vec::new())),
        }
    }

    async fn apply(&mut self, wanted: &BTreeSet<String>) {
        let held: BTreeSet<String> = self.tasks.keys().cloned().collect();
        let changes = diff(&held, wanted);
        for pattern in changes.subscribe {
            match self.client.subscribe(pattern.clone()).await {
                Ok(sub) => {
                    let task = tokio::spawn(forward(
                        self.shared.clone(),
                        pattern.clone(),
                        self.held.clone(),
                        sub,
                    ));
                    self.tasks.insert(pattern, task);
                }
                Err(e) => tracing::warn!("nats: cannot subscribe to {pattern}: {e}"),
            }
        }
        for pattern in changes.unsubscribe {
            // Dropping the subscriber (with its task) unsubscribes.
            if let Some(task) = self.tasks.remove(&pattern) {
                task.abort();
            }
        }
        let mut patterns: Vec<String> = self.tasks.keys().cloned().collect();
        patterns.sort();
        let parsed = patterns
            .iter()
            .filter_map(|p| Pattern::parse(p).ok())
            .collect();
        *self.held.write().unwrap_or_else(|e| e.into_inner()) = parsed;
    }

    fn clear(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
    }
}

async fn forward(
    shared: Arc<Shared>,
    pattern: String,
    held: Arc<RwLock<Vec<Pattern>>>,
    mut sub: async_nats::Subscriber,
) {
    while let Some(msg) = sub.next().await {
        let topic = msg.subject.as_str();
        let tokens: Vec<&str> = topic.split('.').collect();
        let owner_is_me = held
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.matches(&tokens))
            .is_none_or(|p| p.as_str() == pattern);
        if !owner_is_me {
            continue;
        }
        match normalise(topic, &msg.payload, rand::random(), unix_now()) {
            Ok(envelope) => {
                Stats::incr(&shared.bus.stats.relayed);
                shared.bus.publish(topic, envelope);
            }
            Err(e) => {
                Stats::incr(&shared.bus.stats.upstream_bad_frames);
                tracing::debug!("message on {topic} skipped: {e}");
            }
        }
    }
}

/// Loads the last beat of every health subject from the stream, retrying
/// with backoff until it succeeds (the server may be away, the stream may
/// not exist yet).
async fn warm_start(shared: &Shared, client: &async_nats::Client, name: &str) {
    let mut attempt = 0u32;
    loop {
        match load_stream(shared, client, name).await {
            Ok(n) => {
                tracing::info!("warm start: {n} beats loaded from stream {name}");
                if shared.config.announce {
                    println!("warm start: {n} beats loaded from JetStream stream {name}");
                }
                return;
            }
            Err(e) => {
                tracing::warn!("warm start from stream {name}: {e}; retrying");
            }
        }
        tokio::time::sleep(backoff::delay(attempt, rand::random())).await;
        attempt = attempt.saturating_add(1);
    }
}

/// The stream `--nats-create-stream` makes: the last beat of each health
/// subject for a day. One subject pattern only: `system.*.health` covers
/// `system.bus.health`, and JetStream refuses overlapping subjects.
pub fn stream_config(name: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: name.to_owned(),
        subjects: vec![RETAIN_PATTERN.to_owned()],
        max_messages_per_subject: 1,
        max_age: STREAM_MAX_AGE,
        num_replicas: replicas,
        ..Default::default()
    }
}

async fn load_stream(
    shared: &Shared,
    client: &async_nats::Client,
    name: &str,
) -> Result<usize, String> {
    // Short requests: while a cluster elects a new stream leader, a retry
    // in two seconds beats waiting out the default five.
    let js = jetstream::ContextBuilder::new()
        .timeout(JS_TIMEOUT)
        .build(client.clone());
    let stream = if shared.config.nats_create_stream {
        js.get_or_create_stream(stream_config(
            name,
            usize::from(shared.config.nats_stream_replicas),
        ))
        .await
        .map_err(|e| format!("cannot get or create the stream: {e}"))?
    } else {
        js.get_stream(name).await.map_err(|e| {
            format!("cannot get the stream: {e} (start with --nats-create-stream to create it)")
        })?
    };
    let subjects: Vec<(String, usize)> = stream
        .info_with_subjects(RETAIN_PATTERN)
        .await
        .map_err(|e| format!("cannot list its subjects: {e}"))?
        .try_collect()
        .await
        .map_err(|e| format!("cannot list its subjects: {e}"))?;
    let mut loaded = 0;
    for (subject, _) in subjects {
        let msg = match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(msg) => msg,
            // Expired between the listing and now: nothing to load.
            Err(e) => {
                tracing::debug!("warm start: {subject}: {e}");
                continue;
            }
        };
        let stored = msg.time.unix_timestamp_nanos() as f64 / 1e9;
        let now = unix_now();
        let age = age_of(stored, now);
        match normalise(&subject, &msg.payload, rand::random(), stored) {
            Ok(envelope) => {
                shared
                    .bus
                    .retain_loaded(&subject, envelope, Duration::from_secs_f64(age));
                loaded += 1;
            }
            Err(e) => {
                Stats::incr(&shared.bus.stats.upstream_bad_frames);
                tracing::debug!("warm start: {subject}: {e}");
            }
        }
    }
    Ok(loaded)
}

/// The age of a stored message from its timestamp and our clock, clamped
/// at 0 (another server's clock may run slightly ahead of ours) and at a
/// day (the stream keeps nothing older).
pub fn age_of(stored_unix: f64, now_unix: f64) -> f64 {
    let age = now_unix - stored_unix;
    if age.is_finite() {
        age.clamp(0.0, STREAM_MAX_AGE.as_secs_f64())
    } else {
        0.0
    }
}

/// The publishing connection: a second client, so what the gateway
/// publishes comes back to it like any other event.
pub async fn publish(shared: Arc<Shared>, urls: Vec<String>, mut outbox: mpsc::Receiver<Outgoing>) {
    let announce = shared.config.announce;
    let shown = urls.join(",");
    let printed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = options(&shared, "worker-gateway publisher").event_callback(move |event| {
        let printed = printed.clone();
        let shown = shown.clone();
        async move {
            if let async_nats::Event::Connected = event {
                if announce && !printed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    println!("publishing to {shown} (subject = topic, body = bus envelope)");
                }
            }
        }
    });
    let client = match options.connect(urls.as_slice()).await {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("--upstream {}: {e}", urls.join(","));
            return;
        }
    };
    loop {
        let event = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            event = outbox.recv() => event,
        };
        let Some(event) = event else { break };
        // async-nats buffers while reconnecting; an error means the client
        // is closed for good, and the event is lost (the bus is at most once).
        match client.publish(event.topic, event.envelope.into()).await {
            Ok(()) => Stats::incr(&shared.bus.stats.upstream_published),
            Err(e) => tracing::debug!("nats publish failed: {e}"),
        }
    }
    let _ = client.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_clamped() {
        assert_eq!(age_of(100.0, 102.5), 2.5);
        assert_eq!(age_of(103.0, 102.5), 0.0, "a server clock ahead of ours");
        assert_eq!(age_of(0.0, 1e12), STREAM_MAX_AGE.as_secs_f64());
        assert_eq!(age_of(f64::NAN, 1.0), 0.0);
    }

    #[test]
    fn the_created_stream_keeps_one_beat_per_subject_for_a_day() {
        let c = stream_config("health", 3);
        assert_eq!(c.subjects, ["system.*.health"]);
        assert_eq!(c.max_messages_per_subject, 1);
        assert_eq!(c.max_age, Duration::from_secs(86_400));
        assert_eq!(c.num_replicas, 3);
    }
}
