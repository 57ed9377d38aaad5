//! The in-process bus: connected clients, their subscriptions, routing with
//! NATS wildcards, the retained beats and the counters. Every send is a
//! `try_send` into a bounded per-client queue, so one stuck client can never
//! block a publisher or grow memory: it is closed as a slow consumer instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use axum::extract::ws::{Message, Utf8Bytes};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::frame;
use crate::retained::{Retained, MAX_RETAINED};
use crate::stats::Stats;
use crate::topic::{health_name, Pattern};

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
}

pub struct Bus {
    clients: RwLock<HashMap<ClientId, Client>>,
    retained: Mutex<Retained>,
    pub stats: Stats,
    next_id: AtomicU64,
    queue: usize,
}

impl Bus {
    /// A bus whose clients each get a send queue of `queue` frames.
    pub fn new(queue: usize) -> Bus {
        Bus {
            clients: RwLock::new(HashMap::new()),
            retained: Mutex::new(Retained::new(MAX_RETAINED)),
            stats: Stats::default(),
            next_id: AtomicU64::new(1),
            queue: queue.max(1),
        }
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
        }
    }

    /// Adds (or, for a known sid, replaces) a subscription, then queues the
    /// retained beats it newly covers. Both happen under the write lock, so
    /// no live event can slip in between and arrive twice.
    pub fn subscribe(&self, id: ClientId, sid: i64, pattern: Pattern) -> Result<(), String> {
        let mut clients = self.write_clients();
        let Some(client) = clients.get_mut(&id) else {
            return Ok(()); // already disconnecting
        };
        if let Some(slot) = client.subs.iter_mut().find(|(s, _)| *s == sid) {
            slot.1 = pattern.clone();
        } else if client.subs.len() >= MAX_SUBS {
            return Err(format!("too many subscriptions (max {MAX_SUBS})"));
        } else {
            client.subs.push((sid, pattern.clone()));
            Stats::incr(&self.stats.subscriptions);
        }

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
        let before = client.subs.len();
        client.subs.retain(|(s, _)| *s != sid);
        if client.subs.len() == before {
            return Err(format!("no subscription with sid {sid}"));
        }
        Stats::sub(&self.stats.subscriptions, 1);
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
            return false;
        }
        match handle.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
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

    #[test]
    fn delivers_once_even_when_two_subs_match() {
        let bus = Bus::new(16);
        let token = CancellationToken::new();
        let (id, _h, mut rx) = bus.connect(&token);
        bus.subscribe(id, 1, pattern("system.*.health"))
            .expect("sub");
        bus.subscribe(id, 2, pattern("system.>")).expect("sub");
        bus.publish("system.api.health", "{}".into());
        assert_eq!(texts(&mut rx).len(), 1);
    }

    #[test]
    fn replays_only_what_is_newly_covered() {
        let bus = Bus::new(16);
        let token = CancellationToken::new();
        bus.publish("system.api.health", "{\"a\":1}".into());
        let (id, _h, mut rx) = bus.connect(&token);
        bus.subscribe(id, 1, pattern("system.api.health"))
            .expect("sub");
        assert_eq!(texts(&mut rx).len(), 1);
        bus.subscribe(id, 2, pattern("system.*.health"))
            .expect("sub");
        assert!(texts(&mut rx).is_empty(), "already covered by sid 1");
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
