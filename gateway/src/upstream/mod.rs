//! The gateway's link to a real bus (`--upstream`): the spec, the link state
//! behind status frames and `/readyz`, and the DECNET and NATS drivers, short
//! I/O loops around the pure codec, [`interest`] and [`relay`].

pub mod decnet;
pub mod interest;
pub mod nats;
pub mod relay;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::Shared;

/// Where `--upstream` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// A DECNET bus daemon's UNIX socket.
    Decnet(PathBuf),
    /// One NATS server or the seed list of a cluster.
    Nats(Vec<String>),
}

impl Spec {
    /// Parses `decnet:PATH` or `nats://HOST:PORT[,nats://HOST:PORT...]`
    /// (`tls://` too).
    pub fn parse(s: &str) -> Result<Spec, String> {
        if let Some(path) = s.strip_prefix("decnet:") {
            if path.is_empty() {
                return Err(
                    "decnet: needs the socket path, e.g. decnet:/run/decnet/bus.sock".into(),
                );
            }
            return Ok(Spec::Decnet(PathBuf::from(path)));
        }
        let urls: Vec<String> = s.split(',').map(|u| u.trim().to_owned()).collect();
        if urls.iter().all(|u| {
            (u.starts_with("nats://") || u.starts_with("tls://"))
                && u.split_once("://")
                    .is_some_and(|(_, rest)| !rest.is_empty())
        }) {
            return Ok(Spec::Nats(urls));
        }
        Err(format!(
            "{s:?} is not an upstream: expected decnet:PATH or nats://HOST:PORT[,nats://HOST:PORT...]"
        ))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Spec::Decnet(_) => "decnet",
            Spec::Nats(_) => "nats",
        }
    }

    /// The upstream as shown in stats and logs, without credentials.
    pub fn display(&self) -> String {
        match self {
            Spec::Decnet(path) => format!("decnet:{}", path.display()),
            Spec::Nats(urls) => urls
                .iter()
                .map(|u| match u.split_once("://") {
                    Some((scheme, rest)) => match rest.rsplit_once('@') {
                        Some((_, host)) => format!("{scheme}://{host}"),
                        None => u.clone(),
                    },
                    None => u.clone(),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// The state of the link to the bus. With no upstream the in-process bus is
/// the bus, and it is always up.
#[derive(Debug, Clone)]
pub struct Link {
    pub kind: &'static str,
    pub url: Option<String>,
    pub up: bool,
    since: Instant,
    pub error: Option<String>,
    /// Times the link came up again after being up before.
    pub reconnects: u64,
    connected_once: bool,
}

/// `/admin/stats`' view of the link.
#[derive(Debug, Serialize)]
pub struct LinkSnapshot {
    pub kind: &'static str,
    pub state: &'static str,
    pub url: Option<String>,
    pub since: f64,
    pub error: Option<String>,
    pub reconnects: u64,
}

impl Link {
    pub fn local(now: Instant) -> Link {
        Link {
            kind: "none",
            url: None,
            up: true,
            since: now,
            error: None,
            reconnects: 0,
            connected_once: true,
        }
    }

    pub fn upstream(spec: &Spec, now: Instant) -> Link {
        Link {
            kind: spec.kind(),
            url: Some(spec.display()),
            up: false,
            since: now,
            error: Some("not connected yet".into()),
            reconnects: 0,
            connected_once: false,
        }
    }

    /// Records the link's state; true if it flipped between up and down,
    /// which is when clients are told. A new error while down is kept for
    /// the next frame and the stats, not announced on its own: a daemon
    /// that stays away would otherwise cost a frame per attempt.
    pub fn set(&mut self, up: bool, error: Option<String>, now: Instant) -> bool {
        self.error = if up { None } else { error };
        if up == self.up {
            return false;
        }
        self.up = up;
        self.since = now;
        if up {
            if self.connected_once {
                self.reconnects += 1;
            }
            self.connected_once = true;
        }
        true
    }

    /// Seconds the current state has lasted.
    pub fn since_secs(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.since).as_secs_f64()
    }

    /// `{"op":"status","upstream":"up"|"down","since":<s>,"error":<str|null>}`.
    pub fn status_frame(&self, now: Instant) -> String {
        #[derive(Serialize)]
        struct Status<'a> {
            op: &'static str,
            upstream: &'static str,
            since: f64,
            error: Option<&'a str>,
        }
        let status = Status {
            op: "status",
            upstream: if self.up { "up" } else { "down" },
            since: (self.since_secs(now) * 1000.0).round() / 1000.0,
            error: self.error.as_deref(),
        };
        // A struct of strings and a float always serialises.
        serde_json::to_string(&status).unwrap_or_default()
    }

    pub fn snapshot(&self, now: Instant) -> LinkSnapshot {
        LinkSnapshot {
            kind: self.kind,
            state: if self.up { "up" } else { "down" },
            url: self.url.clone(),
            since: (self.since_secs(now) * 1000.0).round() / 1000.0,
            error: self.error.clone(),
            reconnects: self.reconnects,
        }
    }
}

/// One event the gateway publishes upstream (the simulated fleet, and
/// client `pub`s with `--publish-upstream`).
#[derive(Debug)]
pub struct Outgoing {
    pub topic: String,
    pub envelope: String,
}

/// Events waiting for the publishing link; past this they are dropped
/// (counted), as the bus itself would drop them for a slow subscriber.
pub const OUTBOX: usize = 1024;

/// Starts the drivers of `spec`: the relaying link and, given an outbox,
/// the publishing one. Dropping the set stops them.
pub fn start(
    shared: Arc<Shared>,
    spec: &Spec,
    outbox: Option<mpsc::Receiver<Outgoing>>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    match spec {
        Spec::Decnet(path) => {
            tasks.spawn(decnet::relay(shared.clone(), path.clone()));
            if let Some(rx) = outbox {
                tasks.spawn(decnet::publish(shared, path.clone(), rx));
            }
        }
        Spec::Nats(urls) => {
            tasks.spawn(nats::relay(shared.clone(), urls.clone()));
            if let Some(rx) = outbox {
                tasks.spawn(nats::publish(shared, urls.clone(), rx));
            }
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn specs() {
        assert_eq!(
            Spec::parse("decnet:/run/decnet/bus.sock"),
            Ok(Spec::Decnet("/run/decnet/bus.sock".into()))
        );
        assert_eq!(
            Spec::parse("nats://a:1,nats://b:2"),
            Ok(Spec::Nats(vec!["nats://a:1".into(), "nats://b:2".into()]))
        );
        for bad in [
            "decnet:",
            "http://x",
            "nats://",
            "nats://a,http://b",
            "/run/bus.sock",
        ] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
        let spec = Spec::parse("nats://u:p@a:1,tls://b:2").expect("valid");
        assert_eq!(spec.display(), "nats://a:1,tls://b:2");
    }

    #[test]
    fn link_tells_flips_and_counts_reconnects() {
        let t0 = Instant::now();
        let spec = Spec::Decnet("/x".into());
        let mut link = Link::upstream(&spec, t0);
        assert!(!link.up);
        assert!(!link.set(false, Some("refused".into()), t0), "still down");
        assert_eq!(link.error.as_deref(), Some("refused"));
        assert!(link.set(true, None, t0 + Duration::from_secs(1)));
        assert_eq!(link.reconnects, 0, "the first connection is no reconnect");
        assert!(link.set(false, Some("closed".into()), t0 + Duration::from_secs(2)));
        assert!(link.set(true, None, t0 + Duration::from_secs(3)));
        assert_eq!(link.reconnects, 1);
        let frame: serde_json::Value =
            serde_json::from_str(&link.status_frame(t0 + Duration::from_millis(4500)))
                .expect("json");
        assert_eq!(
            frame,
            serde_json::json!({"op":"status","upstream":"up","since":1.5,"error":null})
        );
        let local = Link::local(t0);
        assert!(local.up && local.kind == "none");
    }
}
