//! The retained store: the last event of every `system.<name>.health` topic,
//! with the instant it arrived, so a new subscriber sees the fleet at once.
//! Bounded: past the capacity the least recently updated topic is evicted.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;

/// How many topics the gateway retains at most: far above any real fleet,
/// low enough that a publisher inventing topics cannot grow memory.
pub const MAX_RETAINED: usize = 1024;

pub struct Entry {
    pub envelope: Utf8Bytes,
    pub received: Instant,
    seq: u64,
}

pub struct Retained {
    capacity: usize,
    by_topic: HashMap<String, Entry>,
    /// Update order (sequence number to topic): its first entry is the least
    /// recently updated topic, found in O(log n) when evicting.
    order: BTreeMap<u64, String>,
    next_seq: u64,
}

impl Retained {
    pub fn new(capacity: usize) -> Retained {
        Retained {
            capacity: capacity.max(1),
            by_topic: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Stores the event as the topic's latest, evicting if a new topic would
    /// exceed the capacity.
    pub fn insert(&mut self, topic: &str, envelope: Utf8Bytes, received: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(entry) = self.by_topic.get_mut(topic) {
            self.order.remove(&entry.seq);
            *entry = Entry {
                envelope,
                received,
                seq,
            };
        } else {
            if self.by_topic.len() >= self.capacity {
                if let Some((_, oldest)) = self.order.pop_first() {
                    self.by_topic.remove(&oldest);
                }
            }
            self.by_topic.insert(
                topic.to_owned(),
                Entry {
                    envelope,
                    received,
                    seq,
                },
            );
        }
        self.order.insert(seq, topic.to_owned());
    }

    /// Stores the event unless the topic already holds one received later
    /// (a beat loaded at start must not replace a live one).
    pub fn insert_if_newer(&mut self, topic: &str, envelope: Utf8Bytes, received: Instant) {
        if self
            .by_topic
            .get(topic)
            .is_some_and(|e| e.received >= received)
        {
            return;
        }
        self.insert(topic, envelope, received);
    }

    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    /// Every retained (topic, entry), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.by_topic.iter().map(|(t, e)| (t.as_str(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_latest_per_topic() {
        let mut r = Retained::new(4);
        let now = Instant::now();
        r.insert("system.a.health", "1".into(), now);
        r.insert("system.a.health", "2".into(), now);
        assert_eq!(r.len(), 1);
        let (_, e) = r.iter().next().expect("one entry");
        assert_eq!(e.envelope.as_str(), "2");
    }

    #[test]
    fn loaded_beats_never_replace_live_ones() {
        let mut r = Retained::new(4);
        let now = Instant::now();
        let earlier = now - std::time::Duration::from_secs(5);
        r.insert("system.a.health", "live".into(), now);
        r.insert_if_newer("system.a.health", "loaded".into(), earlier);
        r.insert_if_newer("system.b.health", "loaded".into(), earlier);
        let got: std::collections::HashMap<&str, &str> =
            r.iter().map(|(t, e)| (t, e.envelope.as_str())).collect();
        assert_eq!(got["system.a.health"], "live");
        assert_eq!(got["system.b.health"], "loaded");
    }

    #[test]
    fn evicts_least_recently_updated() {
        let mut r = Retained::new(2);
        let now = Instant::now();
        r.insert("a", "1".into(), now);
        r.insert("b", "1".into(), now);
        r.insert("a", "2".into(), now); // a is now the fresher one
        r.insert("c", "1".into(), now);
        let mut topics: Vec<&str> = r.iter().map(|(t, _)| t).collect();
        topics.sort();
        assert_eq!(topics, ["a", "c"]);
        assert_eq!(r.order.len(), 2);
    }
}
