//! The HTTP side: static files with isolation headers and MIME types, the
//! admin endpoints only with `--admin`, and the flood benchmark socket.

mod common;

use std::path::PathBuf;

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// A fresh directory with a page, a wasm file and a module.
fn site() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("wg-site-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<h1>workers</h1>").expect("write");
    std::fs::write(dir.join("pkg/reg_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
    std::fs::write(dir.join("app.mjs"), "export {};").expect("write");
    std::fs::write(dir.join("reg.js"), "export {};").expect("write");
    dir
}

#[tokio::test]
async fn static_files_are_isolated_and_typed() {
    let dir = site();
    let dir_arg = dir.to_string_lossy().into_owned();
    let gw = start(&["--static", &dir_arg]).await;

    let (status, head, body) = http_get(gw.addr, "/").await;
    assert_eq!(status, 200);
    assert_eq!(body, "<h1>workers</h1>");
    for header in [
        "cross-origin-opener-policy: same-origin",
        "cross-origin-embedder-policy: require-corp",
        "cache-control: no-cache",
        "content-type: text/html",
    ] {
        assert!(head.contains(header), "missing {header:?} in\n{head}");
    }
    for (path, mime) in [
        ("/pkg/reg_bg.wasm", "application/wasm"),
        ("/app.mjs", "text/javascript"),
        ("/reg.js", "text/javascript"),
    ] {
        let (status, head, _) = http_get(gw.addr, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains(&format!("content-type: {mime}\r\n")),
            "{path}: {head}"
        );
        assert!(head.contains("cross-origin-embedder-policy: require-corp"));
    }
    assert_eq!(http_get(gw.addr, "/missing.txt").await.0, 404);
    // The bus still lives next to the files.
    let mut c = connect(&gw.url()).await;
    assert!(until_pong(&mut c).await.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn directories_mount_at_their_own_paths() {
    let dir = site();
    let pkg = dir.join("pkg").to_string_lossy().into_owned();
    let mount = format!("/lib={pkg}");
    let gw = start(&["--static", &dir.to_string_lossy(), "--static", &mount]).await;
    let (status, head, _) = http_get(gw.addr, "/lib/reg_bg.wasm").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/wasm"), "{head}");
    assert!(head.contains("cross-origin-opener-policy: same-origin"));
    assert_eq!(http_get(gw.addr, "/").await.2, "<h1>workers</h1>");
    assert_eq!(http_get(gw.addr, "/lib/index.html").await.0, 404);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn admin_is_404_unless_enabled() {
    let dir = site();
    // Even a file at admin/stats in the static directory must not answer.
    std::fs::create_dir_all(dir.join("admin")).expect("mkdir");
    std::fs::write(dir.join("admin/stats"), "{}").expect("write");
    let dir_arg = dir.to_string_lossy().into_owned();
    let closed = start(&["--static", &dir_arg]).await;
    assert_eq!(http_get(closed.addr, "/admin/stats").await.0, 404);
    assert_eq!(http_get(closed.addr, "/admin/flood").await.0, 404);

    let open = start(&["--admin"]).await;
    let (status, head, body) = http_get(open.addr, "/admin/stats").await;
    assert_eq!(status, 200);
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let stats: Value = serde_json::from_str(&body).expect("json");
    for field in [
        "connections",
        "subscriptions",
        "retained_topics",
        "published",
        "dropped_clients",
        "total_connections",
        "auth_failures",
        "shed",
    ] {
        assert!(stats[field].is_u64(), "{field} in {stats}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn flood_sends_count_frames_then_done() {
    let gw = start(&["--admin"]).await;
    for (kind, binary) in [("mix", false), ("beat", true)] {
        let url = format!(
            "ws://{}/admin/flood?count=500&kind={kind}&binary={}",
            gw.addr,
            u8::from(binary)
        );
        let mut ws = connect(&url).await;
        let (mut text, mut bin, mut done) = (0, 0, None);
        while let Some(msg) = ws.next().await {
            match msg.expect("frame") {
                Message::Text(t) if t.as_str().contains("flood_done") => {
                    done = Some(serde_json::from_str::<Value>(t.as_str()).expect("json"));
                }
                Message::Text(_) => text += 1,
                Message::Binary(b) => {
                    assert!((120..=260).contains(&b.len()));
                    bin += 1;
                }
                Message::Close(frame) => {
                    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000));
                    break;
                }
                _ => {}
            }
        }
        let expected = if binary { (0, 500) } else { (500, 0) };
        assert_eq!((text, bin), expected, "{kind}");
        assert_eq!(done.expect("flood_done")["count"], 500);
    }

    let bad = format!("ws://{}/admin/flood?kind=nope", gw.addr);
    assert!(tokio_tungstenite::connect_async(bad).await.is_err());
    let foreign = format!("ws://{}/admin/flood?count=1", gw.addr);
    assert!(connect_with_origin(&foreign, "http://evil.example")
        .await
        .is_err());
}

#[tokio::test]
async fn probes_and_metrics_without_an_upstream() {
    let gw = start(&["--allow-subscribe", ">"]).await;
    let (status, _, body) = http_get(gw.addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // The in-process bus is always up, and there is nothing to warm.
    let (status, _, body) = http_get(gw.addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ready["upstream"], "up");

    let mut c = connect(&gw.url()).await;
    sub(&mut c, 1, "system.*.health").await;
    let (status, head, text) = http_get(gw.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    for line in [
        "worker_gateway_connections 1",
        "worker_gateway_subscriptions 1",
        "worker_gateway_upstream_up 1",
        "worker_gateway_ready 1",
        "worker_gateway_upstream_reconnects_total 0",
        "worker_gateway_relayed_total 0",
        "worker_gateway_upstream_info{kind=\"none\"} 1",
        "# TYPE worker_gateway_dropped_clients counter",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    gw.stop().await;
}
