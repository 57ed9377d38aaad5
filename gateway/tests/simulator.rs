//! The simulated fleet, on the in-process bus and against a real
//! `nats-server`.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::Value;

/// The beating allowlisted workers (all but `updater`, which never starts).
const BEATING: [&str; 9] = [
    "api",
    "bus",
    "collector",
    "profiler",
    "sniffer",
    "prober",
    "mutator",
    "agent",
    "forwarder",
];

#[tokio::test]
async fn fleet_beats_like_the_demo_promises() {
    let gw = start(&[
        "--simulate",
        "--interval",
        "0.2",
        "--silent-after",
        "2",
        "--allow-subscribe",
        ">",
    ])
    .await;
    let mut c = connect(&gw.url()).await;
    sub(&mut c, 1, ">").await;

    // Distinct event ids per topic: a retained replay repeats its live id.
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    let mut agent_states = HashSet::new();
    let mut pids: HashMap<String, HashSet<i64>> = HashMap::new();
    let until = Instant::now() + Duration::from_millis(1700);
    while Instant::now() < until {
        let event = next_json(&mut c).await;
        let topic = event["topic"].as_str().unwrap_or("?").to_owned();
        let payload = &event["payload"];
        if let Some(pid) = payload["pid"].as_i64() {
            pids.entry(topic.clone()).or_default().insert(pid);
        }
        if topic == "system.agent.health" {
            assert_eq!(payload["realism"]["llm_model"], "llama3.1:8b");
            agent_states.insert(payload["realism"]["llm_breaker_state"].to_string());
        }
        if topic == "system.mutator.health" {
            assert_eq!(payload["realism"]["llm_enabled"], false);
        }
        let id = event["id"].as_str().unwrap_or("?").to_owned();
        ids.entry(topic).or_default().insert(id);
    }
    let count = |topic: &str| ids.get(topic).map_or(0, HashSet::len);

    for worker in BEATING.iter().filter(|w| **w != "forwarder") {
        let topic = format!("system.{worker}.health");
        assert!(count(&topic) >= 5, "{topic}: {} beats", count(&topic));
        assert_eq!(
            pids.get(&topic).map(HashSet::len),
            Some(1),
            "{topic} pid is stable"
        );
    }
    assert_eq!(count("system.forwarder.health"), 2, "silent after 2 beats");
    assert_eq!(count("system.updater.health"), 0, "updater never starts");
    assert!(count("system.intruder.health") >= 5);
    assert!(count("attacker.observed") >= 20, "~5 per interval");
    assert!(count("system.api.metrics") >= 5);
    assert!(!agent_states.is_empty());
}

/// Kills the `nats-server` child when the test ends, pass or fail.
struct NatsServer {
    child: Child,
    port: u16,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_nats_server() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("nats-server"))
                .collect()
        })
        .unwrap_or_default();
    candidates.push("/usr/sbin/nats-server".into());
    candidates.push("/usr/local/bin/nats-server".into());
    candidates.into_iter().find(|p| p.is_file())
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_nats(binary: &PathBuf, extra: &[&str]) -> NatsServer {
    let port = free_port();
    let child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    let server = NatsServer { child, port };
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nats-server did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server
}

/// The `nats-server` binary. A missing one fails the test with the install
/// hint: it must never pass unrun.
fn nats_or_skip(test: &str) -> Option<PathBuf> {
    let found = find_nats_server();
    assert!(
        found.is_some(),
        "{test} needs nats-server (looked in PATH, /usr/sbin, /usr/local/bin): \
         install it with apt-get install nats-server, or run npm test, which does"
    );
    found
}

#[tokio::test]
async fn fleet_publishes_to_nats() {
    let Some(binary) = nats_or_skip("fleet_publishes_to_nats") else {
        return;
    };
    let nats = start_nats(&binary, &[]).await;
    let url = format!("nats://127.0.0.1:{}", nats.port);
    let client = async_nats::connect(&url)
        .await
        .expect("test client connects");
    let mut beats = client
        .subscribe("system.*.health")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");

    let gw = start(&[
        "--simulate",
        "--interval",
        "0.2",
        "--nats-publish",
        &url,
        "--admin",
    ])
    .await;

    let mut workers = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while workers.len() < BEATING.len() + 1 {
        let msg = tokio::time::timeout_at(deadline, beats.next())
            .await
            .expect("beats arrive over NATS")
            .expect("subscription open");
        let body: Value = serde_json::from_slice(&msg.payload).expect("envelope JSON");
        assert_eq!(body["v"], 1);
        assert_eq!(
            body["topic"].as_str(),
            Some(msg.subject.as_str()),
            "subject = topic"
        );
        let worker = body["payload"]["worker"].as_str().unwrap_or("?").to_owned();
        assert_eq!(msg.subject.as_str(), format!("system.{worker}.health"));
        workers.insert(worker);
    }
    assert!(workers.contains("intruder") && !workers.contains("updater"));
    // Published to NATS (--nats-publish is --upstream now), not in-process.
    let stats = gw.stats().await;
    assert!(
        stats["upstream_published"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert_eq!(stats["upstream"]["kind"], "nats");
    gw.stop().await;
}

#[tokio::test]
async fn nats_credentials_are_passed_on() {
    let Some(binary) = nats_or_skip("nats_credentials_are_passed_on") else {
        return;
    };
    let nats = start_nats(&binary, &["--user", "sim", "--pass", "pw"]).await;
    let url = format!("nats://127.0.0.1:{}", nats.port);
    let client = async_nats::ConnectOptions::new()
        .user_and_password("sim".into(), "pw".into())
        .connect(&url)
        .await
        .expect("test client connects");
    let mut beats = client
        .subscribe("system.api.health")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");

    let gw = start(&[
        "--simulate",
        "--interval",
        "0.2",
        "--nats-publish",
        &url,
        "--nats-user",
        "sim",
        "--nats-pass",
        "pw",
    ])
    .await;
    let msg = tokio::time::timeout(Duration::from_secs(5), beats.next())
        .await
        .expect("an authenticated publisher's beat arrives")
        .expect("subscription open");
    assert_eq!(msg.subject.as_str(), "system.api.health");
    gw.stop().await;
}
