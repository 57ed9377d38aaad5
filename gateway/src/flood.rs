//! Pure: the small set of realistic frames the `/admin/flood` benchmark
//! socket cycles through, encoded once up front so the flood measures the
//! browser, not the gateway's serialiser.

use serde_json::{json, Map, Value};

use crate::frame::envelope;
use crate::sim::fleet::WORKERS;

/// What a flood sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Health beats of allowlisted workers.
    Beat,
    /// `attacker.observed` events: not health, a registry ignores them.
    Other,
    /// Beats of a worker that is not on the allowlist.
    Unknown,
    /// 70% other, 20% beat, 5% unknown, 5% malformed.
    Mix,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "beat" => Some(Kind::Beat),
            "other" => Some(Kind::Other),
            "unknown" => Some(Kind::Unknown),
            "mix" => Some(Kind::Mix),
            _ => None,
        }
    }
}

/// The frames for `kind`, in the order to cycle through. `ts` is the unix
/// time stamped on every frame.
pub fn frames(kind: Kind, ts: f64) -> Vec<String> {
    match kind {
        Kind::Beat => (0..WORKERS.len()).map(|i| beat(i, ts)).collect(),
        Kind::Other => (0..8).map(|i| other(i, ts)).collect(),
        Kind::Unknown => (0..4).map(|i| unknown(i, ts)).collect(),
        Kind::Mix => mix(ts),
    }
}

/// 40 slots: 28 other, 8 beat, 2 unknown, 2 malformed, spread out by a
/// fixed permutation (i * 7 mod 40; 7 and 40 are coprime) so each kind is
/// interleaved rather than sent in runs.
fn mix(ts: f64) -> Vec<String> {
    let mut slots: Vec<String> = Vec::with_capacity(40);
    slots.extend((0..28).map(|i| other(i, ts)));
    slots.extend((0..8).map(|i| beat(i, ts)));
    slots.extend((0..2).map(|i| unknown(i, ts)));
    slots.push(bad_ts(ts));
    slots.push(bad_json(ts));
    (0..slots.len())
        .map(|i| slots[(i * 7) % slots.len()].clone())
        .collect()
}

fn id(kind: u64, i: usize) -> u64 {
    0x5eed_0000_0000_0000 | (kind << 32) | i as u64
}

fn payload(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn beat(i: usize, ts: f64) -> String {
    let name = WORKERS[i % WORKERS.len()];
    let topic = format!("system.{name}.health");
    let body = payload(json!({
        "worker": name, "ts": ts, "pid": 4100 + i, "uptime_s": 86_400 + 37 * i, "queue_depth": i % 5,
    }));
    envelope(id(1, i), &topic, "health", ts, &body)
}

fn other(i: usize, ts: f64) -> String {
    const SEEN: [(u16, &str); 4] = [(22, "ssh"), (23, "telnet"), (445, "smb"), (3389, "rdp")];
    let (port, service) = SEEN[i % SEEN.len()];
    let body = payload(json!({
        "src_ip": format!("203.0.113.{}", 10 + i), "port": port, "service": service, "ts": ts,
    }));
    envelope(id(2, i), "attacker.observed", "event", ts, &body)
}

fn unknown(i: usize, ts: f64) -> String {
    let body = payload(json!({
        "worker": "intruder", "ts": ts, "pid": 6666 + i, "uptime_s": 12, "queue_depth": 0,
    }));
    envelope(id(3, i), "system.intruder.health", "health", ts, &body)
}

/// A well-formed envelope whose `payload.ts` is not a number: the frame that
/// once froze the original registry.
fn bad_ts(ts: f64) -> String {
    let body = payload(json!({ "worker": "api", "ts": "abc", "pid": 4100, "uptime_s": 86_400 }));
    envelope(id(4, 0), "system.api.health", "health", ts, &body)
}

/// A beat cut off mid-object: not JSON at all.
fn bad_json(ts: f64) -> String {
    let whole = beat(1, ts);
    whole[..whole.len() - 20].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_realistic_size() {
        for kind in [Kind::Beat, Kind::Other, Kind::Unknown, Kind::Mix] {
            for f in frames(kind, 1_764_190_000.123) {
                assert!((120..=260).contains(&f.len()), "{kind:?}: {} {f}", f.len());
            }
        }
    }

    #[test]
    fn mix_has_the_promised_shares() {
        let frames = frames(Kind::Mix, 1.0);
        let count = |needle: &str| frames.iter().filter(|f| f.contains(needle)).count();
        assert_eq!(frames.len(), 40);
        assert_eq!(count("attacker.observed"), 28);
        assert_eq!(count("intruder"), 2);
        let bad = frames
            .iter()
            .filter(|f| serde_json::from_str::<Value>(f).is_err() || f.contains("\"abc\""))
            .count();
        assert_eq!(bad, 2);
        // No two consecutive frames of the malformed pair.
        assert!(frames.windows(2).all(|w| w[0] != w[1]));
    }
}
