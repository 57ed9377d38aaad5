//! The in-process bus: connected clients, their subscriptions, routing with
//! NATS wildcards, the retained beats and the counters. Every send is a
//! `try_send` into a bounded per-client queue, so one stuck client can never
//! block a publisher or grow memory: it is closed as a slow consumer instead.
//! The bus also keeps what the upstream link needs to know (the patterns
//! clients read) and tells clients the link's state.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::frame;
use crate::retained::{Retained, MAX_RETAINED};
use crate::stats::Stats;
use crate::topic::{health_name, Pattern};
use crate::upstream::interest::Interest;
use crate::upstream::{Link, LinkSnapshot};

/// The pattern the gateway itself always reads, so it retains every health
/// beat (`system.bus.health` included) whether or not a client asked yet.
pub const RETAIN_PATTERN: &str = "system.*.health";

/// Subscriptions one connection may hold (docs/protocol.md, section 2.5 "Limits").
pub const MAX_SUBS: usize = 16;

pub type ClientId = u64;

/// What the bus keeps to reach one connection's writer.
pub struct ClientHandle {
    tx: mpsc::Sender<Message>,
    /// Cancelled to make the writer close the socket: by a kick (slow
    /// consumer) or, being a child of the server's token, by shutdown.
    pub close: CancellationToken,
    kicked: AtomicBool,
}

impl ClientHandle {
    /// True once the client was closed for falling behind.
    pub fn is_kicked(&self) -> bool {
        self.kicked.load(Ordering::Relaxed)
    }
}

struct Client {
    handle: Arc<ClientHandle>,
    subs: Vec<(i64, Pattern)>,
    /// Whether the client has been sent a status frame, and so gets one on
    /// every change of the link.
    status: bool,
}

pub struct Bus {
    clients: RwLock<HashMap<ClientId, Client>>,
    retained: Mutex<Retained>,
    pub stats: Stats,
    next_id: AtomicU64,
    queue: usize,
    /// The patterns read, by how many readers (lock order: after clients).
    interest: Mutex<Interest>,
    /// The patterns the upstream link should hold, for its driver to watch.
    wanted: watch::Sender<BTreeSet<String>>,
    /// The upstream link's state (lock order: after clients).
    link: Mutex<Link>,
}

impl Bus {
    /// A bus with no upstream, whose clients each get a send queue of
    /// `queue` frames.
    pub fn new(queue: usize) -> Bus {
        Bus::with_link(queue, Link::local(Instant::now()))
    }

    /// A bus whose upstream link starts in the state `link`.
    pub fn with_link(queue: usize, link: Link) -> Bus {
        let mut interest = Interest::default();
        if let Ok(p) = Pattern::parse(RETAIN_PATTERN) {
            interest.add(&p);
        }
        let (wanted, _) = watch::channel(interest.wanted());
        Bus {
            clients: RwLock::new(HashMap::new()),
            retained: Mutex::new(Retained::new(MAX_RETAINED)),
            stats: Stats::default(),
            next_id: AtomicU64::new(1),
            queue: queue.max(1),
            interest: Mutex::new(interest),
            wanted,
            link: Mutex::new(link),
        }
    }

    /// The patterns to hold upstream, updated as clients come and go.
    pub fn wanted(&self) -> watch::Receiver<BTreeSet<String>> {
        self.wanted.subscribe()
    }

    /// Readers of `pattern` (clients, plus the gateway for RETAIN_PATTERN).
    pub fn readers(&self, pattern: &str) -> usize {
        self.lock_interest().count(pattern)
    }

    /// Records the upstream link's state and, if it flipped, tells every
    /// client that has had a status frame.
    pub fn set_link(&self, up: bool, error: Option<String>) {
        let now = Instant::now();
        let clients = self.read_clients();
        let mut link = self.lock_link();
        let was_up = link.up;
        if !link.set(up, error, now) {
            return;
        }
        if up {
            tracing::info!("upstream {} is up", link.url.as_deref().unwrap_or("?"));
        } else if was_up {
            tracing::warn!(
                "upstream {} is down: {}",
                link.url.as_deref().unwrap_or("?"),
                link.error.as_deref().unwrap_or("?")
            );
        }
        let status = Utf8Bytes::from(link.status_frame(now));
        for client in clients.values().filter(|c| c.status) {
            self.send(&client.handle, Message::Text(status.clone()));
        }
    }

    pub fn link(&self) -> LinkSnapshot {
        self.lock_link().snapshot(Instant::now())
    }

    pub fn link_up(&self) -> bool {
        self.lock_link().up
    }

    /// Sends the client its first status frame (after its first `sub` or
    /// `auth`); from then on it hears of every change.
    pub fn enable_status(&self, id: ClientId) {
        let mut clients = self.write_clients();
        if let Some(client) = clients.get_mut(&id) {
            self.status_once(client);
        }
    }

    fn status_once(&self, client: &mut Client) {
        if client.status {
            return;
        }
        client.status = true;
        let frame = self.lock_link().status_frame(Instant::now());
        self.send(&client.handle, Message::Text(frame.into()));
    }

    /// Retains a beat loaded at start (from a JetStream stream) as received
    /// `age` ago, unless a newer one already arrived live.
    pub fn retain_loaded(&self, topic: &str, envelope: String, age: Duration) {
        if health_name(topic).is_none() {
            return;
        }
        let now = Instant::now();
        let received = now.checked_sub(age).unwrap_or(now);
        self.lock_retained()
            .insert_if_newer(topic, envelope.into(), received);
    }

    fn update_interest(&self, f: impl FnOnce(&mut Interest)) {
        let mut interest = self.lock_interest();
        f(&mut interest);
        let now = interest.wanted();
        self.wanted.send_if_modified(|w| {
            if *w == now {
                false
            } else {
                *w = now;
                true
            }
        });
    }

    /// Registers a connection; its writer drains the returned receiver and
    /// watches `handle.close`.
    pub fn connect(
        &self,
        shutdown: &CancellationToken,
    ) -> (ClientId, Arc<ClientHandle>, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(self.queue);
        let handle = Arc::new(ClientHandle {
            tx,
            close: shutdown.child_token(),
            kicked: AtomicBool::new(false),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let client = Client {
            handle: handle.clone(),
            subs: Vec::new(),
            status: false,
        };
        self.write_clients().insert(id, client);
        Stats::incr(&self.stats.connections);
        Stats::incr(&self.stats.total_connections);
        (id, handle, rx)
    }

    pub fn disconnect(&self, id: ClientId) {
        if let Some(client) = self.write_clients().remove(&id) {
            Stats::sub(&self.stats.connections, 1);
            Stats::sub(&self.stats.subscriptions, client.subs.len() as u64);
            if !client.subs.is_empty() {
                self.update_interest(|i| client.subs.iter().for_each(|(_, p)| i.remove(p)));
            }
        }
    }

    /// Adds (or, for a known sid, replaces) a subscription, then queues the
    /// client's first status frame and the retained beats the pattern newly
    /// covers. All happens under the write lock, so no live event can slip
    /// in between and arrive twice.
    pub fn subscribe(&self, id: ClientId, sid: i64, pattern: Pattern) -> Result<(), String> {
        let mut clients = self.write_clients();
        let Some(client) = clients.get_mut(&id) else {
            return Ok(()); // already disconnecting
        };
        if let Some(slot) = client.subs.iter_mut().find(|(s, _)| *s == sid) {
            let old = std::mem::replace(&mut slot.1, pattern.clone());
            self.update_interest(|i| {
                i.add(&pattern);
                i.remove(&old);
            });
        } else if client.subs.len() >= MAX_SUBS {
            return Err(format!("too many subscriptions (max {MAX_SUBS})"));
        } else {
            client.subs.push((sid, pattern.clone()));
            Stats::incr(&self.stats.subscriptions);
            self.update_interest(|i| i.add(&pattern));
        }
        self.status_once(client);

        let now = Instant::now();
        let retained = self.lock_retained();
        for (topic, entry) in retained.iter() {
            let tokens: Vec<&str> = topic.split('.').collect();
            let covered_elsewhere = client
                .subs
                .iter()
                .any(|(s, p)| *s != sid && p.matches(&tokens));
            if pattern.matches(&tokens) && !covered_elsewhere {
                let age = now.saturating_duration_since(entry.received).as_secs_f64();
                let replay = frame::retained(entry.envelope.as_str(), age);
                if !self.send(&client.handle, Message::Text(replay.into())) {
                    break;
                }
            }
        }
        Ok(())
    }

    pub fn unsubscribe(&self, id: ClientId, sid: i64) -> Result<(), String> {
        let mut clients = self.write_clients();
        let Some(client) = clients.get_mut(&id) else {
            return Ok(());
        };
        let Some(at) = client.subs.iter().position(|(s, _)| *s == sid) else {
            return Err(format!("no subscription with sid {sid}"));
        };
        let (_, pattern) = client.subs.remove(at);
        Stats::sub(&self.stats.subscriptions, 1);
        self.update_interest(|i| i.remove(&pattern));
        Ok(())
    }

    /// Routes one serialised envelope to every connection with a matching
    /// subscription, at most once per connection, and retains it if it is a
    /// health beat. The caller has validated the topic.
    pub fn publish(&self, topic: &str, envelope: String) {
        let envelope = Utf8Bytes::from(envelope);
        let tokens: Vec<&str> = topic.split('.').collect();
        let clients = self.read_clients();
        if health_name(topic).is_some() {
            self.lock_retained()
                .insert(topic, envelope.clone(), Instant::now());
        }
        Stats::incr(&self.stats.published);
        for client in clients.values() {
            if client.subs.iter().any(|(_, p)| p.matches(&tokens)) {
                // Utf8Bytes clones share one buffer: serialised once, fanned out.
                self.send(&client.handle, Message::Text(envelope.clone()));
            }
        }
    }

    /// Queues a frame for one client. A full queue means the client stopped
    /// reading: it is closed with 4408 rather than waited for. Returns false
    /// if the frame was not queued.
    pub fn send(&self, handle: &ClientHandle, msg: Message) -> bool {
        if handle.is_kicked() {
            Stats::incr(&self.stats.dropped_frames);
            return false;
        }
        match handle.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                Stats::incr(&self.stats.dropped_frames);
                if !handle.kicked.swap(true, Ordering::Relaxed) {
                    Stats::incr(&self.stats.dropped_clients);
                    tracing::info!("closing a slow consumer (send queue full)");
                    handle.close.cancel();
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn retained_topics(&self) -> usize {
        self.lock_retained().len()
    }

    // A panic while holding a lock cannot leave these maps half-updated in a
    // way that matters to routing, so a poisoned lock is simply taken over.
    fn read_clients(&self) -> RwLockReadGuard<'_, HashMap<ClientId, Client>> {
        self.clients.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_clients(&self) -> RwLockWriteGuard<'_, HashMap<ClientId, Client>> {
        self.clients.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_retained(&self) -> MutexGuard<'_, Retained> {
        self.retained.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_interest(&self) -> MutexGuard<'_, Interest> {
        self.interest.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Pattern {
        Pattern::parse(p).expect("valid")
    }

    fn texts(rx: &mut mpsc::Receiver<Message>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Message::Text(t)) = rx.try_recv() {
            out.push(t.as_str().to_owned());
        }
        out
    }

    /// The frames other than status frames.
    fn events(rx: &mut mpsc::Receiver<Message>) -> Vec<String> {
        let mut out = texts(rx);
        out.retain(|t| !t.starts_with(r#"{"op":"status""#));
        out
    }

    #[test]
    fn delivers_once_even_when_two_subs_match() {
        let bus = Bus::new(16);
        let token = CancellationToken::new();
        let (id, _h, mut rx) = bus.connect(&token);
        bus.subscribe(id, 1, pattern("system.*.health"))
            .expect("sub");
        bus.subscribe(id, 2, pattern("system.>")).expect("sub");
        bus.publish("system.api.health", "{}".into());
        assert_eq!(events(&mut rx).len(), 1);
    }

    #[test]
    fn replays_only_what_is_newly_covered() {
        let bus = Bus::new(16);
        let token = CancellationToken::new();
        bus.publish("system.api.health", "{\"a\":1}".into());
        let (id, _h, mut rx) = bus.connect(&token);
        bus.subscribe(id, 1, pattern("system.api.health"))
            .expect("sub");
        assert_eq!(events(&mut rx).len(), 1);
        bus.subscribe(id, 2, pattern("system.*.health"))
            .expect("sub");
        assert!(events(&mut rx).is_empty(), "already covered by sid 1");
    }

    #[test]
    fn status_comes_once_after_the_first_sub_then_on_every_flip() {
        let spec = crate::upstream::Spec::Decnet("/x".into());
        let bus = Bus::with_link(16, Link::upstream(&spec, Instant::now()));
        let token = CancellationToken::new();
        let (quiet, _h, mut quiet_rx) = bus.connect(&token);
        let (id, _h, mut rx) = bus.connect(&token);
        bus.set_link(true, None);
        assert!(texts(&mut rx).is_empty(), "nothing before the first sub");
        bus.subscribe(id, 1, pattern("system.*.health"))
            .expect("sub");
        bus.subscribe(id, 2, pattern("system.bus.health"))
            .expect("sub");
        let got = texts(&mut rx);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with(r#"{"op":"status","upstream":"up","since":"#));
        bus.set_link(false, Some("daemon gone".into()));
        bus.set_link(false, Some("still gone".into()));
        let got = texts(&mut rx);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains(r#""upstream":"down""#) && got[0].contains("daemon gone"));
        assert!(texts(&mut quiet_rx).is_empty());
        bus.enable_status(quiet);
        assert!(texts(&mut quiet_rx)[0].contains("still gone"));
    }

    #[test]
    fn interest_follows_subscriptions() {
        let bus = Bus::new(16);
        let token = CancellationToken::new();
        let wanted = bus.wanted();
        let (a, _h, _rx) = bus.connect(&token);
        let (b, _h, _rx) = bus.connect(&token);
        assert_eq!(bus.readers(RETAIN_PATTERN), 1, "the gateway's own");
        bus.subscribe(a, 1, pattern("attacker.>")).expect("sub");
        bus.subscribe(b, 1, pattern("attacker.>")).expect("sub");
        bus.subscribe(b, 2, pattern("system.api.health"))
            .expect("sub");
        assert!(wanted.borrow().contains("attacker.>"));
        assert!(!wanted.borrow().contains("system.api.health"), "covered");
        bus.unsubscribe(a, 1).expect("unsub");
        assert!(wanted.borrow().contains("attacker.>"), "b still reads it");
        bus.subscribe(b, 1, pattern("audit.>")).expect("replace");
        assert!(!wanted.borrow().contains("attacker.>"));
        bus.disconnect(b);
        assert_eq!(
            *wanted.borrow(),
            BTreeSet::from([RETAIN_PATTERN.to_string()])
        );
    }

    #[test]
    fn full_queue_kicks_once() {
        let bus = Bus::new(1);
        let token = CancellationToken::new();
        let (id, h, _rx) = bus.connect(&token);
        bus.subscribe(id, 1, pattern(">")).expect("sub");
        for _ in 0..5 {
            bus.publish("a.b", "{}".into());
        }
        assert!(h.close.is_cancelled());
        assert_eq!(bus.stats.dropped_clients.load(Ordering::Relaxed), 1);
        assert_eq!(
            bus.stats.dropped_frames.load(Ordering::Relaxed),
            5,
            "the status frame after the sub took the one slot"
        );
    }

    #[test]
    fn seventeenth_sub_is_refused_and_gauges_follow() {
        let bus = Bus::new(16);
        let token = CancellationToken::new();
        let (id, _h, _rx) = bus.connect(&token);
        for sid in 0..MAX_SUBS as i64 {
            bus.subscribe(id, sid, pattern("a")).expect("sub");
        }
        assert!(bus.subscribe(id, 99, pattern("a")).is_err());
        assert!(
            bus.subscribe(id, 3, pattern("b")).is_ok(),
            "replacing is fine"
        );
        assert!(bus.unsubscribe(id, 99).is_err());
        bus.unsubscribe(id, 3).expect("unsub");
        assert_eq!(bus.stats.subscriptions.load(Ordering::Relaxed), 15);
        bus.disconnect(id);
        assert_eq!(bus.stats.subscriptions.load(Ordering::Relaxed), 0);
        assert_eq!(bus.stats.connections.load(Ordering::Relaxed), 0);
    }
}
