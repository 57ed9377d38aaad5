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

#[tokio::test]
async fn fleet_publishes_to_nats() {
    let binary = nats_server("fleet_publishes_to_nats");
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
    let binary = nats_server("nats_credentials_are_passed_on");
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

/// A POST with an optional Origin: (status, body).
async fn http_post(addr: std::net::SocketAddr, path: &str, origin: Option<&str>) -> (u16, String) {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let (status, _, body) = http_request(addr, "POST", path, &origin).await;
    (status, body)
}

/// Beats of `worker` seen on `c` within `ms`.
async fn beats_within(c: &mut Ws, worker: &str, ms: u64) -> usize {
    let topic = format!("system.{worker}.health");
    let until = tokio::time::Instant::now() + Duration::from_millis(ms);
    let mut n = 0;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, c.next()).await {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            if v["topic"] == topic.as_str() && v["retained"] != true {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn admin_stops_and_starts_simulated_workers() {
    let gw = start(&["--simulate", "--interval", "0.1", "--admin"]).await;
    let mut c = connect(&gw.url()).await;
    sub(&mut c, 1, "system.*.health").await;
    assert!(beats_within(&mut c, "api", 500).await >= 3);

    let (status, body) = http_post(gw.addr, "/admin/sim/api/stop", None).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"running":false,"worker":"api"}"#)
    );
    // A beat already on its way may still arrive; then silence.
    let _ = beats_within(&mut c, "api", 150).await;
    assert_eq!(beats_within(&mut c, "api", 500).await, 0, "api is stopped");
    assert!(
        beats_within(&mut c, "bus", 300).await >= 2,
        "the others beat on"
    );

    // Started again, it beats at once.
    let (status, _) = http_post(gw.addr, "/admin/sim/api/start", None).await;
    assert_eq!(status, 200);
    assert!(
        beats_within(&mut c, "api", 60).await >= 1,
        "a beat right after start"
    );
    // updater never starts on its own, but can be started.
    assert_eq!(beats_within(&mut c, "updater", 300).await, 0);
    assert_eq!(
        http_post(gw.addr, "/admin/sim/updater/start", None).await.0,
        200
    );
    assert!(beats_within(&mut c, "updater", 300).await >= 2);

    assert_eq!(
        http_post(gw.addr, "/admin/sim/intruder/stop", None).await.0,
        404
    );
    assert_eq!(
        http_post(gw.addr, "/admin/sim/api/pause", None).await.0,
        400
    );
    let foreign = http_post(gw.addr, "/admin/sim/api/stop", Some("http://evil.example")).await;
    assert_eq!(foreign.0, 403);
    assert!(
        beats_within(&mut c, "api", 300).await >= 2,
        "a foreign page cannot stop it"
    );
    gw.stop().await;

    // Without --simulate there is nothing to control; without --admin, no route.
    let plain = start(&["--admin"]).await;
    assert_eq!(
        http_post(plain.addr, "/admin/sim/api/stop", None).await.0,
        409
    );
    plain.stop().await;
    let closed = start(&["--simulate"]).await;
    assert_eq!(
        http_post(closed.addr, "/admin/sim/api/stop", None).await.0,
        404
    );
    closed.stop().await;
}

#[tokio::test]
async fn the_slowing_worker_beats_irregularly() {
    let gw = start(&["--simulate", "--interval", "0.1"]).await;
    let mut c = connect(&gw.url()).await;
    sub(&mut c, 1, "system.prober.health").await;
    let mut times = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_millis(2600);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, c.next()).await {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            if v["retained"] != true {
                if let Some(ts) = v["payload"]["ts"].as_f64() {
                    times.push(ts);
                }
            }
        }
    }
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 10, "{gaps:?}");
    let longest = gaps.iter().copied().fold(0.0, f64::max);
    let shortest = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    // One cycle of gaps (periods): 0.8 .. 2.7.
    assert!(
        longest > 0.22 && longest < 0.35,
        "longest gap {longest}: {gaps:?}"
    );
    assert!(shortest < 0.095, "shortest gap {shortest}: {gaps:?}");
    gw.stop().await;
}
