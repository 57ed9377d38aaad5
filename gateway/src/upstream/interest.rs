//! Pure: which patterns the gateway holds upstream. Client subscriptions are
//! counted by pattern, and only patterns no other held one covers are sent,
//! so a bus never sends the same event twice.

use std::collections::{BTreeMap, BTreeSet};

use crate::topic::Pattern;

/// Reference counts of the patterns clients (and the gateway itself) read.
#[derive(Debug, Default)]
pub struct Interest {
    counts: BTreeMap<String, (Pattern, usize)>,
}

impl Interest {
    pub fn add(&mut self, pattern: &Pattern) {
        self.counts
            .entry(pattern.as_str().to_owned())
            .or_insert_with(|| (pattern.clone(), 0))
            .1 += 1;
    }

    /// Drops one reference; the pattern goes when its last reader does.
    pub fn remove(&mut self, pattern: &Pattern) {
        if let Some((_, n)) = self.counts.get_mut(pattern.as_str()) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(pattern.as_str());
            }
        }
    }

    /// How many readers hold `pattern`.
    pub fn count(&self, pattern: &str) -> usize {
        self.counts.get(pattern).map_or(0, |(_, n)| *n)
    }

    /// The patterns to hold upstream: every held pattern that no other held
    /// pattern covers.
    pub fn wanted(&self) -> BTreeSet<String> {
        self.counts
            .iter()
            .filter(|(source, (p, _))| {
                !self
                    .counts
                    .iter()
                    .any(|(other, (q, _))| other != *source && p.is_subset_of(q))
            })
            .map(|(source, _)| source.clone())
            .collect()
    }
}

/// What to send upstream to go from `current` to `wanted`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Sent first, so an event covered by both the old and the new set is
    /// not missed in between.
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
}

pub fn diff(current: &BTreeSet<String>, wanted: &BTreeSet<String>) -> Changes {
    Changes {
        subscribe: wanted.difference(current).cloned().collect(),
        unsubscribe: current.difference(wanted).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).expect("valid")
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counts_references_and_drops_the_last() {
        let mut i = Interest::default();
        i.add(&p("attacker.>"));
        i.add(&p("attacker.>"));
        assert_eq!(i.wanted(), set(&["attacker.>"]));
        i.remove(&p("attacker.>"));
        assert_eq!(i.count("attacker.>"), 1);
        assert_eq!(i.wanted(), set(&["attacker.>"]));
        i.remove(&p("attacker.>"));
        assert!(i.wanted().is_empty());
        i.remove(&p("attacker.>")); // one too many: ignored
        assert_eq!(i.count("attacker.>"), 0);
    }

    #[test]
    fn covered_patterns_stay_home() {
        let mut i = Interest::default();
        i.add(&p("system.*.health"));
        i.add(&p("system.api.health"));
        i.add(&p("system.bus.health"));
        i.add(&p("attacker.>"));
        assert_eq!(i.wanted(), set(&["attacker.>", "system.*.health"]));
        i.remove(&p("system.*.health"));
        assert_eq!(
            i.wanted(),
            set(&["attacker.>", "system.api.health", "system.bus.health"])
        );
    }

    #[test]
    fn diff_subscribes_before_it_unsubscribes() {
        let c = diff(&set(&["a", "b"]), &set(&["b", "c"]));
        assert_eq!(
            c,
            Changes {
                subscribe: vec!["c".into()],
                unsubscribe: vec!["a".into()]
            }
        );
        assert_eq!(diff(&set(&["a"]), &set(&["a"])), Changes::default());
    }
}
