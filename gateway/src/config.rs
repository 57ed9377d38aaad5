//! Command-line flags, which are also the gateway's configuration: tests
//! build a `Config` with `Config::from_args(["--token", "t"])`, exactly as a
//! user would start the binary.

use std::path::PathBuf;

use clap::Parser;

use crate::topic::Pattern;
use crate::upstream::Spec;

/// What a client may subscribe to unless `--allow-subscribe` widens it:
/// health beats, and nothing else a bus carries.
pub const DEFAULT_READABLE: [&str; 2] = ["system.*.health", "system.bus.health"];

/// Bus gateway for worker-registry.
///
/// Speaks the JSON gateway protocol (docs/protocol.md, section 2) on a WebSocket at
/// /bus, relays a real bus (a DECNET bus daemon or NATS) or its own
/// in-process one, retains the last health beat of every worker, and can
/// simulate a worker fleet.
#[derive(Parser, Debug, Clone)]
#[command(name = "worker-gateway", version)]
pub struct Config {
    /// Address to listen on (host:port). Port 0 picks a free port. Loopback
    /// by default: the gateway has no TLS and is meant for one machine.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Serve the files of DIR at / (index.html for directories), or at
    /// /PATH when given as /PATH=DIR (repeatable), with cross-origin
    /// isolation headers (COOP/COEP) for benchmarks. The demo serves the
    /// page with `--static www --static /pkg=pkg`.
    #[arg(long = "static", value_name = "[/PATH=]DIR", value_parser = parse_mount)]
    pub static_dirs: Vec<Mount>,

    /// Run a simulated worker fleet in-process, publishing heartbeats and
    /// other traffic on the bus.
    #[arg(long)]
    pub simulate: bool,

    /// Seconds between two beats of a simulated worker (fractions allowed).
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = parse_interval)]
    pub interval: f64,

    /// Beats the simulated `forwarder` sends before it goes silent.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub silent_after: u32,

    /// Require clients to send {"op":"auth","token":TOKEN} as their first
    /// frame; otherwise they are closed with 4401.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Connections that authenticate with this token may publish ("pub").
    /// It also satisfies --token.
    #[arg(long, value_name = "TOKEN")]
    pub publisher_token: Option<String>,

    /// Also accept WebSocket upgrades from this Origin (repeatable). By
    /// default only pages served from the gateway's own host may connect;
    /// '*' accepts every origin (for tests only: it allows cross-site
    /// WebSocket hijacking).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,

    /// Serve GET /admin/stats (JSON counters) and the /admin/flood benchmark
    /// WebSocket. Without it, /admin/* is 404.
    #[arg(long)]
    pub admin: bool,

    /// Per-client send queue, in frames. A client whose queue fills up
    /// (it stopped reading) is closed with 4408 "slow consumer".
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = parse_queue)]
    pub queue: usize,

    /// Publishes per second one connection may make (burst twice that, at
    /// most half of --queue, so a publisher within its rate cannot fill a
    /// reading subscriber's queue);
    /// the excess is dropped and counted as "shed".
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub publish_rate: u32,

    /// Relay this bus instead of the in-process one: decnet:PATH (a DECNET
    /// bus daemon's UNIX socket) or nats://HOST:PORT[,nats://HOST:PORT...]
    /// (a NATS server or cluster). With --simulate the fleet is published
    /// there. --nats-publish is an older name for it.
    #[arg(long, value_name = "SPEC", alias = "nats-publish", value_parser = Spec::parse)]
    pub upstream: Option<Spec>,

    /// Also let clients subscribe to patterns within PATTERN (repeatable).
    /// By default they may read only system.*.health and system.bus.health.
    #[arg(long = "allow-subscribe", value_name = "PATTERN", value_parser = Pattern::parse)]
    pub allow_subscribe: Vec<Pattern>,

    /// Send client `pub`s to the upstream bus too. Without it they reach
    /// only this gateway's own clients.
    #[arg(long, requires = "upstream")]
    pub publish_upstream: bool,

    /// A JetStream stream holding the last message of each health subject:
    /// at start, before serving any sub, the gateway loads those beats with
    /// their ages. NATS upstream only.
    #[arg(long, value_name = "NAME", requires = "upstream")]
    pub nats_stream: Option<String>,

    /// Create the --nats-stream stream when it is missing: subject
    /// system.*.health, one message per subject, kept for a day.
    #[arg(long, requires = "nats_stream")]
    pub nats_create_stream: bool,

    /// Replicas of the stream --nats-create-stream creates (a cluster of
    /// three wants 3).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "nats_create_stream",
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub nats_stream_replicas: u8,

    /// NATS user name (with --nats-pass).
    #[arg(long, value_name = "USER", requires_all = ["upstream", "nats_pass"])]
    pub nats_user: Option<String>,

    /// NATS password (with --nats-user).
    #[arg(long, value_name = "PASS", requires = "nats_user")]
    pub nats_pass: Option<String>,

    /// NATS authentication token.
    #[arg(
        long,
        value_name = "TOKEN",
        requires = "upstream",
        conflicts_with = "nats_user"
    )]
    pub nats_token: Option<String>,

    /// Print progress lines (fleet summary, NATS connection) on stdout.
    /// Set by the binary; quiet when the gateway runs inside tests.
    #[arg(skip)]
    pub announce: bool,
}

impl Config {
    /// Parses flags as the binary would (without the program name).
    pub fn from_args<I, S>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        let argv = std::iter::once(std::ffi::OsString::from("worker-gateway"))
            .chain(args.into_iter().map(Into::into));
        Config::try_parse_from(argv)
    }
}

impl Config {
    /// Checks what clap cannot: flags that only make sense for one kind of
    /// upstream.
    pub fn check(&self) -> Result<(), String> {
        let nats = matches!(self.upstream, Some(Spec::Nats(_)));
        if !nats {
            let nats_only = [
                ("--nats-stream", self.nats_stream.is_some()),
                ("--nats-user", self.nats_user.is_some()),
                ("--nats-token", self.nats_token.is_some()),
            ];
            if let Some((flag, _)) = nats_only.iter().find(|(_, set)| *set) {
                return Err(format!("{flag} needs a NATS --upstream (nats://...)"));
            }
        }
        Ok(())
    }

    /// The patterns clients may read within.
    pub fn readable(&self) -> Vec<Pattern> {
        DEFAULT_READABLE
            .iter()
            .filter_map(|p| Pattern::parse(p).ok())
            .chain(self.allow_subscribe.iter().cloned())
            .collect()
    }
}

impl Default for Config {
    fn default() -> Config {
        // Defaults live in one place, the clap attributes above.
        Config::parse_from(["worker-gateway"])
    }
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let secs: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    // The upper bound keeps Duration::from_secs_f64 far from overflow.
    if (0.001..=86_400.0).contains(&secs) {
        Ok(secs)
    } else {
        Err("must be between 0.001 and 86400 seconds".into())
    }
}

/// A static directory and the URL path it is served at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// "/" or "/name" (no trailing slash).
    pub path: String,
    pub dir: PathBuf,
}

fn parse_mount(s: &str) -> Result<Mount, String> {
    let (path, dir) = match s.split_once('=') {
        Some((p, d)) if p.starts_with('/') => (p.trim_end_matches('/'), d),
        _ => ("", s),
    };
    if path.contains("//") || ["/admin", "/bus", "/healthz", "/readyz", "/metrics"].contains(&path)
    {
        return Err(format!("{path:?} cannot serve files"));
    }
    let dir = PathBuf::from(dir);
    if !dir.is_dir() {
        return Err(format!(
            "{:?} is not a directory",
            dir.display().to_string()
        ));
    }
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    Ok(Mount { path, dir })
}

fn parse_queue(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 1000000".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.interval, 30.0);
        assert_eq!(c.silent_after, 3);
        assert_eq!(c.queue, 1024);
        assert_eq!(c.publish_rate, 2000);
        assert!(!c.simulate && !c.admin && !c.announce);
    }

    #[test]
    fn flags_parse_and_validate() {
        let c = Config::from_args(["--allow-origin", "http://a", "--allow-origin", "*"])
            .expect("valid");
        assert_eq!(c.allow_origins, ["http://a", "*"]);
        assert!(Config::from_args(["--interval", "0"]).is_err());
        assert!(Config::from_args(["--interval", "NaN"]).is_err());
        assert!(Config::from_args(["--queue", "0"]).is_err());
        assert!(Config::from_args(["--static", "/no/such/dir"]).is_err());
        let c = Config::from_args(["--static", "src", "--static", "/pkg/=tests"]).expect("valid");
        assert_eq!(
            c.static_dirs[0],
            Mount {
                path: "/".into(),
                dir: "src".into()
            }
        );
        assert_eq!(
            c.static_dirs[1],
            Mount {
                path: "/pkg".into(),
                dir: "tests".into()
            }
        );
        assert!(Config::from_args(["--static", "/admin=src"]).is_err());
        let c = Config::from_args(["--nats-publish", "nats://x:1"]).expect("an alias");
        assert_eq!(c.upstream, Some(Spec::Nats(vec!["nats://x:1".into()])));
        assert!(Config::from_args(["--upstream", "x"]).is_err());
        assert!(Config::from_args(["--publish-upstream"]).is_err());
        assert!(Config::from_args(["--allow-subscribe", "a.>.b"]).is_err());
        let c = Config::from_args(["--allow-subscribe", "attacker.>"]).expect("valid");
        let readable: Vec<String> = c.readable().iter().map(|p| p.as_str().to_owned()).collect();
        assert_eq!(
            readable,
            ["system.*.health", "system.bus.health", "attacker.>"]
        );
        let c =
            Config::from_args(["--upstream", "decnet:/s", "--nats-stream", "h"]).expect("parses");
        assert!(c
            .check()
            .unwrap_err()
            .contains("--nats-stream needs a NATS"));
        let c = Config::from_args([
            "--upstream",
            "nats://a:1",
            "--nats-stream",
            "h",
            "--nats-create-stream",
            "--nats-stream-replicas",
            "3",
        ])
        .expect("parses");
        assert!(c.check().is_ok());
        assert!(Config::from_args(["--upstream", "nats://a:1", "--nats-create-stream"]).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Config::command().debug_assert();
    }
}
