//! The DECNET bridge against the bus daemon double (`tests/decnet_bus.py`,
//! from docs/decnet-bus.md alone) on a UNIX socket: relaying, status frames,
//! the allowlist, counted SUBs, restarts, malformed frames, no echo, drops.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use worker_gateway::decnet::{encode, Decoder, Frame};

/// A temporary directory, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wr-decnet-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon double, killed when dropped; its stdout lines are collected.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/decnet_bus.py")
}

/// python3, which runs the daemon double. A missing one fails the test with
/// the install hint: it must never pass unrun.
fn python(test: &str) -> &'static str {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{test} runs the DECNET bus double and needs python3 (apt-get install python3)"
    );
    "python3"
}

/// A temporary directory with the daemon double listening on `bus.sock`
/// in it: (directory, socket path, daemon).
async fn daemon(test: &str) -> (TempDir, PathBuf, Daemon) {
    let dir = TempDir::new();
    let socket = dir.0.join("bus.sock");
    let daemon = Daemon::start(python(test), &socket).await;
    (dir, socket, daemon)
}

impl Daemon {
    async fn start(python: &str, socket: &Path) -> Daemon {
        let mut child = Command::new(python)
            .arg(script())
            .arg("--socket")
            .arg(socket)
            .args(["--health-interval", "0.5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the daemon double starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        let daemon = Daemon { child, lines };
        daemon
            .wait_line(|l| l.starts_with("decnet-bus listening on "))
            .await;
        daemon
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| *l == line).count()
    }

    async fn wait_line(&self, want: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.lines().iter().any(|l| want(l)) {
            assert!(
                Instant::now() < deadline,
                "daemon never printed the line; it printed {:?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `line` has been printed `n` times.
    async fn wait_count(&self, line: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.count(line) < n {
            assert!(
                Instant::now() < deadline,
                "{line:?} printed {} times, not {n}; all: {:?}",
                self.count(line),
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill only sends a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    /// SIGTERM (the double removes its socket) and wait for the exit.
    fn stop(mut self) {
        self.signal(libc::SIGTERM);
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client of the daemon, speaking the framing with the gateway's codec.
struct Raw {
    stream: UnixStream,
    decoder: Decoder,
}

impl Raw {
    async fn connect(socket: &Path, name: &str) -> Raw {
        let stream = UnixStream::connect(socket).await.expect("connects");
        let mut raw = Raw {
            stream,
            decoder: Decoder::new(),
        };
        raw.send("HELLO", name, b"").await;
        raw
    }

    async fn send(&mut self, verb: &str, args: &str, body: &[u8]) {
        let bytes = encode(verb, args, body).expect("encodes");
        self.stream.write_all(&bytes).await.expect("writes");
    }

    async fn publish(&mut self, topic: &str, payload: Value) {
        let kind = if topic.ends_with(".health") {
            "health"
        } else {
            "event"
        };
        let body =
            json!({"v": 1, "id": "0", "topic": topic, "type": kind, "ts": 0, "payload": payload});
        self.send("PUB", topic, body.to_string().as_bytes()).await;
    }

    /// The next frame, or `None` if nothing arrives within `within`.
    async fn next(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 65536];
        loop {
            if let Some(frame) = self.decoder.next_frame().expect("valid framing") {
                return Some(frame);
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) => return None,
                Ok(Ok(n)) => self.decoder.feed(&buf[..n]),
                Ok(Err(e)) => panic!("read: {e}"),
            }
        }
    }
}

fn upstream_arg(socket: &Path) -> String {
    format!("decnet:{}", socket.display())
}

/// Next frame that is not a status frame or the daemon's own heartbeat.
async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let f = next_json(ws).await;
        if f["op"] == "status" || f["topic"] == "system.bus.health" {
            continue;
        }
        return f;
    }
}

/// Next status frame, skipping events.
async fn next_status(ws: &mut Ws) -> Value {
    loop {
        let f = next_any(ws).await;
        if f["op"] == "status" {
            return f;
        }
    }
}

const GW_SUB: &str = "SUB worker-gateway system.*.health";

#[tokio::test]
async fn relays_beats_with_the_daemons_envelope_and_says_up() {
    let (_dir, socket, daemon) = daemon("relays_beats").await;
    let gw = start(&["--upstream", &upstream_arg(&socket), "--admin"]).await;
    daemon.wait_count(GW_SUB, 1).await;

    let mut c = connect(&gw.url()).await;
    let before = sub_any(&mut c, 1, "system.*.health").await;
    let status = before
        .iter()
        .find(|f| f["op"] == "status")
        .expect("a status frame right after the first sub");
    assert_eq!(status["upstream"], "up");
    assert_eq!(status["error"], Value::Null);
    assert!(status["since"].as_f64().is_some());

    let mut worker = Raw::connect(&socket, "reuse-correlator").await;
    worker
        .publish(
            "system.reuse-correlator.health",
            json!({"worker": "reuse-correlator", "ts": 1.5}),
        )
        .await;
    let beat = next_event(&mut c).await;
    assert_eq!(beat["topic"], "system.reuse-correlator.health");
    assert_eq!(beat["payload"]["worker"], "reuse-correlator");
    assert_eq!(
        beat["id"].as_str().map(str::len),
        Some(32),
        "the daemon's id, not the publisher's: {beat}"
    );
    assert!(beat["ts"].as_f64().unwrap_or(0.0) > 1e9, "the daemon's ts");

    // A malformed heartbeat is forwarded as it is: the registry judges it.
    worker
        .publish("system.api.health", json!({"worker": "api", "ts": "abc"}))
        .await;
    let bad = next_event(&mut c).await;
    assert_eq!(bad["payload"]["ts"], "abc");

    // The daemon's own heartbeat comes through too, on system.bus.health.
    let mut c2 = connect(&gw.url()).await;
    sub(&mut c2, 1, "system.bus.health").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = next_json(&mut c2).await;
        if f["topic"] == "system.bus.health" {
            assert_eq!(f["type"], "bus.health");
            assert!(f["payload"]["uptime_sec"].is_number());
            break;
        }
        assert!(Instant::now() < deadline);
    }

    let stats = gw.stats().await;
    assert_eq!(stats["upstream"]["kind"], "decnet");
    assert_eq!(stats["upstream"]["state"], "up");
    assert!(stats["relayed"].as_u64().unwrap_or(0) >= 2, "{stats}");
    let (status, _, body) = http_get(gw.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
    daemon.stop();
}

#[tokio::test]
async fn clients_read_only_health_unless_allowed_and_upstream_subs_are_counted() {
    let (_dir, socket, daemon) = daemon("allowlist").await;

    // Default: attacker events are not for dashboards.
    let gw = start(&["--upstream", &upstream_arg(&socket)]).await;
    let mut c = connect(&gw.url()).await;
    let frames = sub(&mut c, 1, "attacker.>").await;
    let error = frames
        .iter()
        .find(|f| f["op"] == "error")
        .expect("an error frame");
    let message = error["message"].as_str().unwrap_or("");
    assert!(
        message.contains("attacker.>") && message.contains("--allow-subscribe"),
        "{message}"
    );
    for refused in [">", "system.>", "system.*.metrics"] {
        let frames = sub(&mut c, 2, refused).await;
        assert!(frames.iter().any(|f| f["op"] == "error"), "{refused}");
    }
    sub(&mut c, 3, "system.api.health").await;
    let frames = sub(&mut c, 4, "system.bus.health").await;
    assert!(frames.iter().all(|f| f["op"] != "error"), "{frames:?}");
    gw.stop().await;

    // Widened: two readers of one pattern cost one SUB, and the UNSUB
    // comes when the last one leaves.
    let gw = start(&[
        "--upstream",
        &upstream_arg(&socket),
        "--allow-subscribe",
        "attacker.>",
    ])
    .await;
    let mut a = connect(&gw.url()).await;
    let mut b = connect(&gw.url()).await;
    sub(&mut a, 1, "attacker.>").await;
    sub(&mut b, 7, "attacker.>").await;
    daemon.wait_count("SUB worker-gateway attacker.>", 1).await;
    let mut attacker = Raw::connect(&socket, "sniffer").await;
    attacker
        .publish("attacker.observed", json!({"src_ip": "203.0.113.9"}))
        .await;
    assert_eq!(next_event(&mut a).await["topic"], "attacker.observed");
    assert_eq!(next_event(&mut b).await["topic"], "attacker.observed");
    drop(a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(daemon.count("UNSUB worker-gateway attacker.>"), 0);
    send(&mut b, json!({"op": "unsub", "sid": 7})).await;
    daemon
        .wait_count("UNSUB worker-gateway attacker.>", 1)
        .await;
    assert_eq!(daemon.count("SUB worker-gateway attacker.>"), 1);
    gw.stop().await;
    daemon.stop();
}

#[tokio::test]
async fn a_daemon_restart_is_reported_and_recovered_with_one_sub_per_pattern() {
    let py = python("restart");
    let dir = TempDir::new();
    let socket = dir.0.join("bus.sock");

    // The daemon is absent at start: the gateway waits for it, down.
    let gw = start(&[
        "--upstream",
        &upstream_arg(&socket),
        "--admin",
        "--allow-subscribe",
        "audit.>",
    ])
    .await;
    let mut c = connect(&gw.url()).await;
    let first = sub_any(&mut c, 1, "system.*.health").await;
    assert_eq!(first[0]["op"], "status");
    assert_eq!(first[0]["upstream"], "down");
    assert!(first[0]["error"]
        .as_str()
        .unwrap_or("")
        .contains("cannot connect"));
    sub(&mut c, 2, "audit.>").await;
    let (status, _, _) = http_get(gw.addr, "/readyz").await;
    assert_eq!(status, 503);

    let daemon = Daemon::start(py, &socket).await;
    assert_eq!(next_status(&mut c).await["upstream"], "up");
    daemon.wait_count(GW_SUB, 1).await;
    daemon.wait_count("SUB worker-gateway audit.>", 1).await;
    let mut worker = Raw::connect(&socket, "api").await;
    worker
        .publish("system.api.health", json!({"worker": "api", "ts": 1.0}))
        .await;
    assert_eq!(next_event(&mut c).await["topic"], "system.api.health");
    drop(worker);

    daemon.stop();
    let down = next_status(&mut c).await;
    assert_eq!(down["upstream"], "down");
    assert!(down["error"].is_string());
    let (status, _, body) = http_get(gw.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");

    // Retained beats keep ageing while the bus is away.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut late = connect(&gw.url()).await;
    let replay = sub_any(&mut late, 1, "system.*.health").await;
    assert_eq!(replay[0]["upstream"], "down");
    let api = replay
        .iter()
        .find(|f| f["topic"] == "system.api.health")
        .expect("the api beat is still retained");
    assert!(api["age"].as_f64().unwrap_or(0.0) >= 0.5, "{api}");

    let daemon = Daemon::start(py, &socket).await;
    assert_eq!(next_status(&mut c).await["upstream"], "up");
    assert_eq!(next_status(&mut late).await["upstream"], "up");
    daemon.wait_count(GW_SUB, 1).await;
    daemon.wait_count("SUB worker-gateway audit.>", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let subs: Vec<String> = daemon
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("SUB worker-gateway "))
        .collect();
    assert_eq!(subs.len(), 2, "one SUB per pattern: {subs:?}");

    let mut worker = Raw::connect(&socket, "api").await;
    worker
        .publish("system.api.health", json!({"worker": "api", "ts": 2.0}))
        .await;
    assert_eq!(next_event(&mut c).await["payload"]["ts"], 2.0);
    let stats = gw.stats().await;
    assert_eq!(stats["upstream"]["reconnects"], 1, "{stats}");
    let (status, _, _) = http_get(gw.addr, "/readyz").await;
    assert_eq!(status, 200);
    gw.stop().await;
    daemon.stop();
}

#[tokio::test]
async fn a_malformed_frame_closes_the_link_and_it_comes_back() {
    let (_dir, socket, daemon) = daemon("malformed").await;
    let gw = start(&["--upstream", &upstream_arg(&socket), "--admin"]).await;
    daemon.wait_count(GW_SUB, 1).await;
    let mut c = connect(&gw.url()).await;
    sub(&mut c, 1, "system.*.health").await;

    daemon.signal(libc::SIGUSR1);
    let down = next_status(&mut c).await;
    assert_eq!(down["upstream"], "down");
    assert!(
        down["error"].as_str().unwrap_or("").contains("malformed"),
        "{down}"
    );
    assert_eq!(next_status(&mut c).await["upstream"], "up");
    daemon.wait_count(GW_SUB, 2).await;
    let stats = gw.stats().await;
    assert_eq!(stats["upstream_bad_frames"], 1, "{stats}");

    let mut worker = Raw::connect(&socket, "api").await;
    worker
        .publish("system.api.health", json!({"worker": "api", "ts": 3.0}))
        .await;
    assert_eq!(next_event(&mut c).await["payload"]["ts"], 3.0);
    gw.stop().await;
    daemon.stop();
}

#[tokio::test]
async fn the_simulator_and_client_pubs_go_upstream_and_are_not_echoed() {
    let (_dir, socket, daemon) = daemon("publishing").await;
    let mut observer = Raw::connect(&socket, "observer").await;
    observer.send("SUB", "system.*.health", b"").await;
    observer.send("SUB", "test.>", b"").await;
    daemon.wait_count("SUB observer test.>", 1).await;

    // Without --publish-upstream a client pub stays in the gateway.
    let gw = start(&[
        "--upstream",
        &upstream_arg(&socket),
        "--publisher-token",
        PUBLISHER,
        "--allow-subscribe",
        "test.>",
    ])
    .await;
    let mut p = publisher(&gw.url()).await;
    sub(&mut p, 1, "test.>").await;
    daemon.wait_count("SUB worker-gateway test.>", 1).await;
    publish(&mut p, "test.local", json!({"n": 1})).await;
    assert_eq!(next_event(&mut p).await["topic"], "test.local");
    assert!(observer
        .next(Duration::from_millis(300))
        .await
        .is_none_or(|f| f.args != "test.local"));
    gw.stop().await;

    // With it, the pub goes to the bus and comes back through the relay.
    let gw = start(&[
        "--upstream",
        &upstream_arg(&socket),
        "--publisher-token",
        PUBLISHER,
        "--publish-upstream",
        "--allow-subscribe",
        "test.>",
        "--simulate",
        "--interval",
        "0.2",
    ])
    .await;
    daemon
        .wait_line(|l| l == "HELLO worker-gateway-publisher")
        .await;
    let mut p = publisher(&gw.url()).await;
    sub(&mut p, 1, "test.>").await;
    // The gateway's upstream SUB is asynchronous, as on any bus: wait for
    // it (the first gateway sent one too) before publishing.
    daemon.wait_count("SUB worker-gateway test.>", 2).await;
    publish(&mut p, "test.upstream", json!({"n": 2})).await;
    let mut seen_by_observer = false;
    let mut fleet = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(seen_by_observer && fleet.len() >= 3) {
        assert!(
            Instant::now() < deadline,
            "seen {fleet:?}, test.upstream {seen_by_observer}"
        );
        let Some(frame) = observer.next(Duration::from_secs(5)).await else {
            continue;
        };
        if frame.args == "test.upstream" {
            seen_by_observer = true;
        } else if frame.args.ends_with(".health") {
            fleet.insert(frame.args);
        }
    }
    assert_eq!(next_event(&mut p).await["topic"], "test.upstream");

    // No echo: a publisher connection does not get its own events back.
    let mut own = Raw::connect(&socket, "self").await;
    own.send("SUB", "echo.>", b"").await;
    daemon.wait_count("SUB self echo.>", 1).await;
    own.publish("echo.me", json!({})).await;
    assert!(own.next(Duration::from_millis(400)).await.is_none());
    gw.stop().await;
    daemon.stop();
}

#[tokio::test]
async fn the_double_drops_the_oldest_frames_of_a_slow_subscriber() {
    let (_dir, socket, daemon) = daemon("drop_oldest").await;
    let mut slow = Raw::connect(&socket, "slow").await;
    slow.send("SUB", "load.>", b"").await;
    daemon.wait_count("SUB slow load.>", 1).await;

    // Large bodies fill the kernel's socket buffers quickly.
    let filler = "x".repeat(4000);
    let mut publisher = Raw::connect(&socket, "fast").await;
    const N: u64 = 5000;
    for n in 0..N {
        publisher
            .publish("load.n", json!({"n": n, "filler": filler}))
            .await;
    }
    daemon.wait_line(|l| l.starts_with("DROP slow ")).await;
    // Let the daemon finish routing before the slow reader wakes up.
    publisher.send("SUB", "sync.>", b"").await;
    daemon.wait_count("SUB fast sync.>", 1).await;

    let mut got = Vec::new();
    while let Some(frame) = slow.next(Duration::from_millis(500)).await {
        let env: Value = serde_json::from_slice(&frame.body).expect("json");
        got.push(env["payload"]["n"].as_u64().expect("n"));
    }
    assert!(got.len() < N as usize, "nothing dropped: {}", got.len());
    assert_eq!(got.last(), Some(&(N - 1)), "the newest frame is kept");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "order is kept");
    // The queue's 1024 newest frames arrive without a gap.
    let tail = &got[got.len() - 1024..];
    assert!(tail.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(got.len() >= 1024);
    daemon.stop();
}
