//! Shared test helpers: start a gateway on port 0 inside the test's runtime,
//! talk to it with tokio-tungstenite, and read `/admin/stats` over raw HTTP.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use worker_gateway::Config;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single expected frame may take to arrive.
pub const WAIT: Duration = Duration::from_secs(5);

pub const PUBLISHER: &str = "pub-secret";

pub struct Gateway {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Starts a gateway configured by command-line flags on a free port.
pub async fn start(args: &[&str]) -> Gateway {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let config = Config::from_args(all).expect("valid flags");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(worker_gateway::run(listener, config, async move {
        let _ = stopped.await;
    }));
    Gateway {
        addr,
        stop: Some(stop),
        task,
    }
}

impl Gateway {
    pub fn url(&self) -> String {
        format!("ws://{}/bus", self.addr)
    }

    /// Triggers shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let done = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
        let result = done.expect("run returns after shutdown").expect("no panic");
        result.expect("run ends cleanly");
    }

    pub async fn stats(&self) -> Value {
        let (status, _, body) = http_get(self.addr, "/admin/stats").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("stats are JSON")
    }
}

pub async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    ws
}

pub async fn connect_with_origin(url: &str, origin: &str) -> Result<Ws, tungstenite::Error> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_str(origin).expect("header"));
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// A connection authenticated as a publisher.
pub async fn publisher(url: &str) -> Ws {
    let mut ws = connect(url).await;
    send(&mut ws, json!({"op": "auth", "token": PUBLISHER})).await;
    ws
}

pub async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .expect("send");
}

pub async fn publish(ws: &mut Ws, topic: &str, payload: Value) {
    send(ws, json!({"op": "pub", "topic": topic, "payload": payload})).await;
}

/// Subscribes and waits until the gateway has processed it: frames are
/// handled in order, so the pong proves the sub (and its replay) is done.
/// Returns whatever arrived before the pong (the retained replays), status
/// frames left out.
pub async fn sub(ws: &mut Ws, sid: i64, pattern: &str) -> Vec<Value> {
    let mut frames = sub_any(ws, sid, pattern).await;
    frames.retain(|f| f["op"] != "status");
    frames
}

/// `sub`, status frames included.
pub async fn sub_any(ws: &mut Ws, sid: i64, pattern: &str) -> Vec<Value> {
    send(ws, json!({"op": "sub", "sid": sid, "pattern": pattern})).await;
    let mut before = Vec::new();
    send(ws, json!({"op": "ping"})).await;
    loop {
        let frame = next_any(ws).await;
        if frame["op"] == "pong" {
            return before;
        }
        before.push(frame);
    }
}

/// Pings and returns every frame but status frames that arrived before the
/// pong.
pub async fn until_pong(ws: &mut Ws) -> Vec<Value> {
    send(ws, json!({"op": "ping"})).await;
    let mut before = Vec::new();
    loop {
        let frame = next_json(ws).await;
        if frame["op"] == "pong" {
            return before;
        }
        before.push(frame);
    }
}

/// The next text frame as JSON, skipping status frames (the upstream
/// link's state, sent after the first sub); panics on timeout or close.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let frame = next_any(ws).await;
        if frame["op"] != "status" {
            return frame;
        }
    }
}

/// The next text frame as JSON, whatever it is.
pub async fn next_any(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("socket still open")
            .expect("no socket error");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON frame"),
            Message::Close(c) => panic!("closed unexpectedly: {c:?}"),
            _ => continue,
        }
    }
}

/// Reads (and drops) frames until the close frame; returns its code.
pub async fn close_code(ws: &mut Ws, within: Duration) -> u16 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("closed in time");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => {
                // Polling once more sends tungstenite's close reply, as a
                // browser would, so the gateway need not wait for it.
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.next()).await;
                return frame.code.into();
            }
            Some(Ok(Message::Close(None))) => panic!("close frame without a code"),
            Some(Ok(_)) => continue,
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    }
}

/// A minimal HTTP/1.1 GET: (status, raw headers, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    http_request(addr, "GET", path, "").await
}

/// A minimal HTTP/1.1 request with no body; `headers` are extra header lines,
/// each ending in CRLF. Returns (status, lower-cased headers, body).
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

pub fn find_nats_server() -> Option<PathBuf> {
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

/// The `nats-server` binary. A missing one fails the test with the install
/// hint: it must never pass unrun.
pub fn nats_server(test: &str) -> PathBuf {
    find_nats_server().unwrap_or_else(|| {
        panic!(
            "{test} needs nats-server (looked in PATH, /usr/sbin, /usr/local/bin): \
             install it with apt-get install nats-server, or run npm test, which does"
        )
    })
}
