//! The NATS upstream against a real three-node `nats-server` cluster with a
//! JetStream stream of three replicas: failover, a third gateway starting
//! warm with the right ages, and `/readyz` while the bus is away.

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The beating workers of this test.
const WORKERS: [&str; 4] = ["api", "bus", "reuse-correlator", "collector"];
const STREAM: &str = "HEALTH";

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One cluster node, killed when dropped; its directory goes with the cluster.
struct Node {
    child: Option<Child>,
    port: u16,
    monitor: u16,
}

impl Node {
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Names of the client connections this node holds now.
    async fn client_names(&self) -> Vec<String> {
        let addr: SocketAddr = ([127, 0, 0, 1], self.monitor).into();
        let (status, _, body) = http_get(addr, "/connz").await;
        assert_eq!(status, 200, "{body}");
        let connz: Value = serde_json::from_str(&body).expect("connz JSON");
        connz["connections"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Cluster {
    nodes: Vec<Node>,
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    async fn start(binary: &PathBuf) -> Cluster {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wr-nats-cluster-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let (port, monitor) = (free_port(), free_port());
            let others: Vec<String> = routes
                .iter()
                .filter(|r| *r != route)
                .map(|r| format!("\"nats-route://127.0.0.1:{r}\""))
                .collect();
            let conf = format!(
                "server_name: n{i}\nlisten: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{monitor}\"\n\
                 jetstream {{ store_dir: \"{store}\" }}\n\
                 cluster {{ name: wr, listen: \"127.0.0.1:{route}\", routes: [{routes}] }}\n",
                store = dir.join(format!("n{i}")).display(),
                routes = others.join(", "),
            );
            let path = dir.join(format!("n{i}.conf"));
            std::fs::write(&path, conf).expect("config");
            let child = Command::new(binary)
                .arg("-c")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts");
            nodes.push(Node {
                child: Some(child),
                port,
                monitor,
            });
        }
        let cluster = Cluster { nodes, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        for node in &cluster.nodes {
            while tokio::net::TcpStream::connect(("127.0.0.1", node.port))
                .await
                .is_err()
            {
                assert!(Instant::now() < deadline, "nats-server did not listen");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        cluster
    }

    fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The retained replay after a fresh `sub`: topic to age. The sub may wait
/// for the gateway's warm start, so the first frame gets longer than usual.
async fn replay_ages(gw: &Gateway) -> HashMap<String, f64> {
    use futures_util::StreamExt;
    let mut c = connect(&gw.url()).await;
    send(
        &mut c,
        json!({"op": "sub", "sid": 1, "pattern": "system.*.health"}),
    )
    .await;
    send(&mut c, json!({"op": "ping"})).await;
    let t0 = Instant::now();
    let mut frames = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), c.next())
            .await
            .expect("the sub is served within the warm start's limit")
            .expect("open")
            .expect("no error");
        let tokio_tungstenite::tungstenite::Message::Text(t) = msg else {
            continue;
        };
        let f: Value = serde_json::from_str(t.as_str()).expect("json");
        if f["op"] == "pong" {
            break;
        }
        frames.push(f);
    }
    tracing::info!("sub served after {:?}", t0.elapsed());
    frames
        .iter()
        .filter(|f| f["retained"] == true)
        .map(|f| {
            (
                f["topic"].as_str().unwrap_or("?").to_owned(),
                f["age"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}

async fn wait_ready(gw: &Gateway) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = http_get(gw.addr, "/readyz").await;
        if status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for a live (not retained) beat of `worker` on `c`.
async fn live_beat(c: &mut Ws, worker: &str) {
    let topic = format!("system.{worker}.health");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "no live beat of {worker}");
        let f = next_json(c).await;
        if f["topic"] == topic.as_str() && f["retained"] != true {
            return;
        }
    }
}

#[tokio::test]
async fn a_cluster_node_dies_beats_flow_and_a_new_gateway_starts_warm() {
    let binary = nats_server("nats_cluster");
    // The gateways' logs, shown if the test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("worker_gateway=debug,async_nats=info")
        .with_test_writer()
        .try_init();
    let mut cluster = Cluster::start(&binary).await;
    let urls = cluster.urls();

    // Workers beat every 200 ms through their own connection to the cluster.
    let workers = async_nats::ConnectOptions::new()
        .name("workers")
        .retry_on_initial_connect()
        .connect(urls.split(',').collect::<Vec<_>>())
        .await
        .expect("workers connect");
    let beating = {
        let workers = workers.clone();
        tokio::spawn(async move {
            loop {
                for w in WORKERS {
                    let beat = json!({"worker": w, "ts": worker_gateway::unix_now()});
                    let _ = workers
                        .publish(format!("system.{w}.health"), beat.to_string().into())
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let gw1 = start(&[
        "--upstream",
        &urls,
        "--nats-stream",
        STREAM,
        "--nats-create-stream",
        "--nats-stream-replicas",
        "3",
        "--admin",
    ])
    .await;
    let gw2 = start(&["--upstream", &urls, "--nats-stream", STREAM, "--admin"]).await;
    // As a load balancer would: send clients only once a replica is ready
    // (the cluster elects its JetStream leader first, which takes seconds).
    wait_ready(&gw1).await;
    wait_ready(&gw2).await;
    let mut c1 = connect(&gw1.url()).await;
    let mut c2 = connect(&gw2.url()).await;
    sub(&mut c1, 1, "system.*.health").await;
    sub(&mut c2, 1, "system.*.health").await;
    live_beat(&mut c1, "api").await;
    live_beat(&mut c2, "api").await;
    for gw in [&gw1, &gw2] {
        let (status, _, body) = http_get(gw.addr, "/readyz").await;
        assert_eq!(status, 200, "{body}");
    }

    // Kill the node most gateways use (at least one does).
    let mut victim = None;
    let mut most = 0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let n = node
            .client_names()
            .await
            .iter()
            .filter(|name| *name == "worker-gateway")
            .count();
        if n > most {
            (victim, most) = (Some(i), n);
        }
    }
    let victim = victim.expect("a node holds a gateway");
    cluster.nodes[victim].kill();
    for c in [&mut c1, &mut c2] {
        for w in WORKERS {
            live_beat(c, w).await;
        }
    }
    // The event that counts a reconnect may trail the first beats a little.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reconnects: u64 = [
            gw1.stats().await["upstream"]["reconnects"].as_u64(),
            gw2.stats().await["upstream"]["reconnects"].as_u64(),
        ]
        .iter()
        .map(|r| r.unwrap_or(0))
        .sum();
        if reconnects >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no gateway counted its failover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Beats stop; a third gateway started now must show the same ages as
    // the others, from the stream's timestamps, not zero.
    beating.abort();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let gw3 = start(&["--upstream", &urls, "--nats-stream", STREAM, "--admin"]).await;
    let fresh = replay_ages(&gw3).await;
    let known = replay_ages(&gw1).await;
    for w in WORKERS {
        let topic = format!("system.{w}.health");
        let (Some(a3), Some(a1)) = (fresh.get(&topic), known.get(&topic)) else {
            panic!("{topic} missing: new gateway {fresh:?}, old {known:?}");
        };
        assert!(*a3 >= 1.0, "{topic}: age {a3} is from the stream");
        assert!((a3 - a1).abs() < 1.0, "{topic}: {a3} vs {a1}");
    }
    let (status, _, body) = http_get(gw3.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");

    // The whole bus goes away: readiness follows, clients are told.
    for node in &mut cluster.nodes {
        node.kill();
    }
    loop {
        let f = next_any(&mut c1).await;
        if f["op"] == "status" && f["upstream"] == "down" {
            break;
        }
    }
    let (status, _, body) = http_get(gw1.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let (status, _, metrics) = http_get(gw1.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("worker_gateway_upstream_up 0"),
        "{metrics}"
    );

    drop(workers);
    gw3.stop().await;
    gw2.stop().await;
    gw1.stop().await;
}

#[tokio::test]
async fn a_missing_stream_keeps_a_gateway_unready_until_it_exists() {
    let binary = nats_server("missing_stream");
    let dir = std::env::temp_dir().join(format!("wr-nats-js-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let mut node = Node {
        child: Some(
            Command::new(&binary)
                .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts"),
        ),
        port,
        monitor: 0,
    };
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(node.url())
        .await
        .expect("test client connects");

    let gw = start(&[
        "--upstream",
        &node.url(),
        "--nats-stream",
        "LATER",
        "--admin",
    ])
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = http_get(gw.addr, "/readyz").await;
        assert_eq!(status, 503, "{body}");
        let ready: Value = serde_json::from_str(&body).expect("json");
        if ready["upstream"] == "up" {
            assert_eq!(ready["warm"], false, "no stream, no warm start");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the upstream never came up: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A bare payload, as `nats pub` sends it, stored in the stream made now.
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(worker_gateway::upstream::nats::stream_config("LATER", 1))
        .await
        .expect("stream created");
    js.publish(
        "system.api.health",
        json!({"worker": "api", "ts": 1.5}).to_string().into(),
    )
    .await
    .expect("published")
    .await
    .expect("stored");
    wait_ready(&gw).await;
    let mut c = connect(&gw.url()).await;
    let replay = sub(&mut c, 1, "system.*.health").await;
    let api = replay
        .iter()
        .find(|f| f["topic"] == "system.api.health")
        .expect("the stored beat is replayed");
    assert_eq!(
        api["payload"]["worker"], "api",
        "wrapped in an envelope: {api}"
    );
    assert_eq!(api["type"], "health");
    assert_eq!(api["retained"], true);
    gw.stop().await;
    node.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain single `nats-server` on a free port.
fn single_node(binary: &PathBuf) -> Node {
    let port = free_port();
    Node {
        child: Some(
            Command::new(binary)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server starts"),
        ),
        port,
        monitor: 0,
    }
}

#[tokio::test]
async fn overlapping_upstream_patterns_relay_each_message_once() {
    let binary = nats_server("overlapping");
    let node = single_node(&binary);
    let workers = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(node.url())
        .await
        .expect("connects");
    let gw = start(&[
        "--upstream",
        &node.url(),
        "--allow-subscribe",
        "system.api.>",
        "--admin",
    ])
    .await;
    wait_ready(&gw).await;
    // system.*.health (held by the gateway itself) and system.api.> overlap
    // on system.api.health without either covering the other: NATS delivers
    // such a message once per subscription.
    let mut health = connect(&gw.url()).await;
    sub(&mut health, 1, "system.*.health").await;
    let mut api = connect(&gw.url()).await;
    sub(&mut api, 1, "system.api.>").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.stats().await["upstream"]["state"] != "up" || {
        // Both subscriptions are in place once a probe on each arrives.
        workers
            .publish("system.api.probe", "{}".into())
            .await
            .expect("publish");
        workers.flush().await.expect("flush");
        tokio::time::timeout(Duration::from_millis(300), next_json(&mut api))
            .await
            .is_err()
    } {
        assert!(Instant::now() < deadline, "the api subscription never held");
    }
    for n in 0..3 {
        let beat = json!({"worker": "api", "ts": n});
        workers
            .publish("system.api.health", beat.to_string().into())
            .await
            .expect("publish");
    }
    workers.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in [&mut health, &mut api] {
        let frames = until_pong(c).await;
        let beats: Vec<i64> = frames
            .iter()
            .filter(|f| f["topic"] == "system.api.health")
            .filter_map(|f| f["payload"]["ts"].as_i64())
            .collect();
        assert_eq!(beats, [0, 1, 2], "each beat once: {frames:?}");
    }
    let stats = gw.stats().await;
    assert_eq!(stats["upstream_bad_frames"], 0);
    gw.stop().await;
}
