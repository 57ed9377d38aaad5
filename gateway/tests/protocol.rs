//! The gateway protocol over real sockets: auth, routing, retained replay,
//! limits, publishing, rate limiting and slow consumers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Topics of frames, in order.
fn topics(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f["topic"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn auth_accepts_the_token_and_closes_others_with_4401() {
    let gw = start(&["--allow-subscribe", ">", "--token", "s3cret", "--admin"]).await;

    let mut good = connect(&gw.url()).await;
    send(&mut good, json!({"op": "auth", "token": "s3cret"})).await;
    assert!(sub(&mut good, 1, "system.*.health").await.is_empty());

    let mut wrong = connect(&gw.url()).await;
    send(&mut wrong, json!({"op": "auth", "token": "guess"})).await;
    assert_eq!(close_code(&mut wrong, WAIT).await, 4401);

    let mut skipped = connect(&gw.url()).await;
    send(&mut skipped, json!({"op": "sub", "sid": 1, "pattern": ">"})).await;
    assert_eq!(close_code(&mut skipped, WAIT).await, 4401);

    // Silent clients get 5 s to authenticate.
    let mut silent = connect(&gw.url()).await;
    let started = std::time::Instant::now();
    assert_eq!(close_code(&mut silent, Duration::from_secs(8)).await, 4401);
    assert!(started.elapsed() >= Duration::from_millis(4500));

    assert_eq!(gw.stats().await["auth_failures"], 3);
    // The authenticated client was never disturbed.
    assert!(until_pong(&mut good).await.is_empty());
}

#[tokio::test]
async fn wildcards_route_and_deliver_once() {
    let gw = start(&["--allow-subscribe", ">", "--publisher-token", PUBLISHER]).await;
    let url = gw.url();
    let mut one = connect(&url).await;
    sub(&mut one, 1, "system.*.health").await;
    let mut rest = connect(&url).await;
    sub(&mut rest, 1, "system.>").await;
    let mut exact = connect(&url).await;
    sub(&mut exact, 1, "system.api.health").await;
    let mut both = connect(&url).await;
    sub(&mut both, 1, "system.*.health").await;
    sub(&mut both, 2, "system.>").await;

    let mut p = publisher(&url).await;
    for topic in [
        "system.api.health",
        "system.bus.health",
        "system.api.metrics",
        "system.a.b.health",
        "attacker.observed",
    ] {
        publish(&mut p, topic, json!({"n": topic})).await;
    }
    until_pong(&mut p).await; // all five routed

    let seen = |frames: Vec<Value>| topics(&frames);
    assert_eq!(
        seen(until_pong(&mut one).await),
        ["system.api.health", "system.bus.health"]
    );
    assert_eq!(
        seen(until_pong(&mut rest).await),
        [
            "system.api.health",
            "system.bus.health",
            "system.api.metrics",
            "system.a.b.health"
        ]
    );
    assert_eq!(seen(until_pong(&mut exact).await), ["system.api.health"]);
    // Two matching subscriptions, still one copy of each event.
    assert_eq!(
        seen(until_pong(&mut both).await),
        [
            "system.api.health",
            "system.bus.health",
            "system.api.metrics",
            "system.a.b.health"
        ]
    );
}

#[tokio::test]
async fn retained_beats_replay_with_their_age() {
    let gw = start(&["--allow-subscribe", ">", "--publisher-token", PUBLISHER]).await;
    let mut p = publisher(&gw.url()).await;
    publish(
        &mut p,
        "system.api.health",
        json!({"worker": "api", "ts": 1.0}),
    )
    .await;
    publish(
        &mut p,
        "system.bus.health",
        json!({"worker": "bus", "ts": 1.0}),
    )
    .await;
    publish(&mut p, "attacker.observed", json!({"port": 22})).await;
    until_pong(&mut p).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut c = connect(&gw.url()).await;
    let replay = sub(&mut c, 1, "system.api.health").await;
    assert_eq!(topics(&replay), ["system.api.health"]);
    let beat = &replay[0];
    assert_eq!(beat["retained"], true);
    assert_eq!(beat["payload"]["worker"], "api");
    let age = beat["age"].as_f64().expect("age is a number");
    assert!((0.25..=1.5).contains(&age), "age {age}");

    // system.api.health is already covered by sid 1: only bus is new.
    let replay = sub(&mut c, 2, "system.*.health").await;
    assert_eq!(topics(&replay), ["system.bus.health"]);
    // Everything is covered now; non-health topics are never retained.
    assert!(sub(&mut c, 3, "system.>").await.is_empty());
    assert!(sub(&mut c, 4, "attacker.>").await.is_empty());

    // Live events carry no retained marker, and arrive once.
    publish(&mut p, "system.api.health", json!({"worker": "api"})).await;
    let live = next_json(&mut c).await;
    assert_eq!(live["topic"], "system.api.health");
    assert!(live.get("retained").is_none());
    assert!(until_pong(&mut c).await.is_empty());
}

#[tokio::test]
async fn foreign_origins_are_refused_before_upgrade() {
    let gw = start(&[
        "--allow-subscribe",
        ">",
        "--allow-origin",
        "http://app.example",
    ])
    .await;
    let url = gw.url();
    match connect_with_origin(&url, "http://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 403)
        }
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let same_host = format!("http://{}", gw.addr);
    assert!(connect_with_origin(&url, &same_host).await.is_ok());
    assert!(connect_with_origin(&url, "http://app.example")
        .await
        .is_ok());
    assert!(
        connect(&url).await.close(None).await.is_ok(),
        "no Origin: not a browser"
    );

    let open = start(&["--allow-subscribe", ">", "--allow-origin", "*"]).await;
    assert!(connect_with_origin(&open.url(), "http://evil.example")
        .await
        .is_ok());
}

#[tokio::test]
async fn bad_frames_get_errors_and_big_ones_close_1009() {
    let gw = start(&["--allow-subscribe", ">"]).await;
    let mut c = connect(&gw.url()).await;

    for (frame, want) in [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        (r#"{"op":"dance"}"#, "unknown op"),
        (r#"{"op":"sub","sid":1}"#, "pattern"),
        (
            r#"{"op":"sub","sid":1,"pattern":"a.*b"}"#,
            "invalid pattern",
        ),
        (
            r#"{"op":"sub","sid":1,"pattern":"a.>.b"}"#,
            "invalid pattern",
        ),
        (r#"{"op":"unsub","sid":42}"#, "no subscription"),
    ] {
        c.send(Message::Text(frame.into())).await.expect("send");
        let reply = next_json(&mut c).await;
        assert_eq!(reply["op"], "error", "{frame}");
        let message = reply["message"].as_str().unwrap_or("");
        assert!(message.contains(want), "{frame}: {message}");
    }
    c.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("send");
    assert_eq!(next_json(&mut c).await["op"], "error");

    for sid in 0..16 {
        assert!(sub(&mut c, sid, &format!("t.{sid}")).await.is_empty());
    }
    let refused = sub(&mut c, 16, "t.16").await;
    assert_eq!(
        refused,
        [json!({"op": "error", "message": "too many subscriptions (max 16)"})]
    );
    // Re-using a sid replaces and is always allowed; the socket still works.
    assert!(sub(&mut c, 3, "t.replaced").await.is_empty());

    let big = format!(r#"{{"op":"ping","pad":"{}"}}"#, "x".repeat(5000));
    c.send(Message::Text(big.into())).await.expect("send");
    assert_eq!(
        next_json(&mut c).await,
        json!({"op": "error", "message": "frame too large (max 4096 bytes)"})
    );
    assert_eq!(close_code(&mut c, WAIT).await, 1009);
}

#[tokio::test]
async fn huge_frames_close_1009_too() {
    // Beyond the WebSocket layer's own 64 KiB cap the frame never reaches
    // the JSON decoder; the client must still learn why it was closed.
    let gw = start(&["--allow-subscribe", ">"]).await;
    let mut c = connect(&gw.url()).await;
    let huge = format!(r#"{{"op":"ping","pad":"{}"}}"#, "x".repeat(100_000));
    c.send(Message::Text(huge.into())).await.expect("send");
    assert_eq!(close_code(&mut c, WAIT).await, 1009);
}

#[tokio::test]
async fn publishing_needs_the_publisher_token() {
    let gw = start(&["--allow-subscribe", ">", "--publisher-token", PUBLISHER]).await;
    let mut reader = connect(&gw.url()).await;
    sub(&mut reader, 1, ">").await;

    let mut plain = connect(&gw.url()).await;
    publish(&mut plain, "system.api.health", json!({})).await;
    assert_eq!(
        next_json(&mut plain).await,
        json!({"op": "error", "message": "pub requires the publisher token"})
    );

    let mut p = publisher(&gw.url()).await;
    publish(&mut p, "system.api.*", json!({})).await;
    assert_eq!(next_json(&mut p).await["op"], "error", "wildcard topic");
    publish(&mut p, "system.api.health", json!({"worker": "api"})).await;
    send(
        &mut p,
        json!({"op": "pub", "topic": "x.y", "payload": {"a": 1}, "type": "custom"}),
    )
    .await;

    let beat = next_json(&mut reader).await;
    assert_eq!(beat["v"], 1);
    assert_eq!(beat["topic"], "system.api.health");
    assert_eq!(beat["type"], "health");
    assert_eq!(beat["payload"], json!({"worker": "api"}));
    let id = beat["id"].as_str().expect("id");
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()));
    let ts = beat["ts"].as_f64().expect("ts");
    assert!(ts > 1.7e9, "unix seconds, got {ts}");
    let custom = next_json(&mut reader).await;
    assert_eq!(
        (&custom["topic"], &custom["type"]),
        (&json!("x.y"), &json!("custom"))
    );
    // Nothing from the refused publishes leaked through.
    assert!(until_pong(&mut reader).await.is_empty());
}

#[tokio::test]
async fn publish_floods_are_shed_and_counted() {
    let gw = start(&[
        "--allow-subscribe",
        ">",
        "--publisher-token",
        PUBLISHER,
        "--publish-rate",
        "10",
        "--admin",
    ])
    .await;
    let mut reader = connect(&gw.url()).await;
    sub(&mut reader, 1, "flood").await;
    let mut p = publisher(&gw.url()).await;
    let started = std::time::Instant::now();
    for n in 0..100 {
        publish(&mut p, "flood", json!({"n": n})).await;
    }
    let answers = until_pong(&mut p).await;
    // Tokens refilled while the test ran (10 per second) may let a few more
    // through on a slow machine; the bounds allow for exactly that.
    let elapsed = started.elapsed().as_secs_f64();
    let refilled = (10.0 * elapsed).ceil() as u64;

    // One notice per second at most, not one per shed publish.
    assert!(
        !answers.is_empty() && answers.len() as u64 <= 1 + elapsed as u64,
        "{answers:?}"
    );
    assert!(answers.iter().all(|a| a["message"]
        .as_str()
        .is_some_and(|m| m.contains("rate limit"))));

    let delivered = until_pong(&mut reader).await.len() as u64;
    // The burst is twice the rate.
    assert!(
        (20..=20 + refilled).contains(&delivered),
        "delivered {delivered} in {elapsed:.2}s"
    );
    let stats = gw.stats().await;
    assert_eq!(stats["shed"].as_u64(), Some(100 - delivered));
    assert_eq!(stats["published"].as_u64(), Some(delivered));
}

// Multi-threaded, as the real server runs: the fast client's writer drains
// its queue while the gateway is still reading the publisher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_4408_alone() {
    let gw = start(&[
        "--allow-subscribe",
        ">",
        "--publisher-token",
        PUBLISHER,
        "--publish-rate",
        "1000000",
        "--admin",
    ])
    .await;
    let mut slow = connect(&gw.url()).await;
    sub(&mut slow, 1, "load").await;
    let mut fast = connect(&gw.url()).await;
    sub(&mut fast, 1, "load").await;

    // ~21 MB: more than loopback socket buffers plus the 1024-frame queue
    // absorb, so the slow client's queue must fill while it is not read.
    const EVENTS: usize = 6000;
    let pad = "x".repeat(3500);
    let progress = Arc::new(AtomicUsize::new(0));
    let seen_by_fast = progress.clone();
    let reader = tokio::spawn(async move {
        let mut seen = 0;
        while seen < EVENTS {
            seen_by_fast.store(seen, Ordering::Relaxed);
            let msg = tokio::time::timeout(WAIT, fast.next())
                .await
                .expect("the fast client keeps receiving")
                .expect("open")
                .expect("no error");
            match msg {
                Message::Text(t) if t.as_str().contains(r#""topic":"load""#) => seen += 1,
                Message::Close(c) => panic!("fast client closed: {c:?}"),
                _ => {}
            }
        }
        seen
    });
    let mut p = publisher(&gw.url()).await;
    for n in 0..EVENTS {
        publish(&mut p, "load", json!({"n": n, "pad": pad})).await;
        // Publish no faster than a reading client can take (a debug build
        // is slow at that): only the client that stopped reading falls behind.
        while n >= progress.load(Ordering::Relaxed) + 256 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(reader.await.expect("fast reader"), EVENTS);

    let stats = gw.stats().await;
    assert_eq!(stats["dropped_clients"], 1);
    // Reading again, the slow client drains what was in flight, then sees why.
    assert_eq!(close_code(&mut slow, Duration::from_secs(10)).await, 4408);
}

#[tokio::test]
async fn admin_stats_count_connections_and_subscriptions() {
    let gw = start(&["--allow-subscribe", ">", "--admin"]).await;
    let mut a = connect(&gw.url()).await;
    sub(&mut a, 1, "system.*.health").await;
    sub(&mut a, 2, "system.bus.health").await;
    let mut b = connect(&gw.url()).await;
    sub(&mut b, 1, ">").await;
    let stats = gw.stats().await;
    assert_eq!(stats["connections"], 2);
    assert_eq!(stats["subscriptions"], 3);
    assert_eq!(stats["total_connections"], 2);
    for field in [
        "retained_topics",
        "published",
        "dropped_clients",
        "auth_failures",
        "shed",
    ] {
        assert_eq!(stats[field], 0, "{field}");
    }

    send(&mut a, json!({"op": "unsub", "sid": 2})).await;
    until_pong(&mut a).await;
    b.close(None).await.expect("close");
    let mut stats = gw.stats().await;
    for _ in 0..50 {
        if stats["connections"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = gw.stats().await;
    }
    assert_eq!(stats["connections"], 1);
    assert_eq!(stats["subscriptions"], 1);
    assert_eq!(stats["total_connections"], 2);
}

#[tokio::test]
async fn shutdown_closes_clients_with_1001() {
    let gw = start(&["--allow-subscribe", ">"]).await;
    let mut c = connect(&gw.url()).await;
    sub(&mut c, 1, ">").await;
    let closing = tokio::spawn(async move { close_code(&mut c, WAIT).await });
    gw.stop().await;
    assert_eq!(closing.await.expect("client task"), 1001);
}

#[tokio::test]
async fn a_publisher_within_its_rate_cannot_overflow_a_reading_client() {
    // Rate 200 would allow a burst of 400, more than a 64-frame queue: the
    // burst is held to half the queue, so subscribers that read are safe.
    let gw = start(&[
        "--allow-subscribe",
        ">",
        "--publisher-token",
        PUBLISHER,
        "--publish-rate",
        "200",
        "--queue",
        "64",
        "--admin",
    ])
    .await;
    let mut readers = Vec::new();
    for _ in 0..20 {
        let mut r = connect(&gw.url()).await;
        sub(&mut r, 1, "burst").await;
        readers.push(r);
    }
    let mut p = publisher(&gw.url()).await;
    for n in 0..400 {
        publish(&mut p, "burst", json!({"n": n})).await;
    }
    until_pong(&mut p).await;
    let stats = gw.stats().await;
    assert_eq!(stats["dropped_clients"], 0, "{stats}");
    assert!(stats["shed"].as_u64().unwrap() >= 400 - 32 - 10, "{stats}");
    // Every reader got the publishes that were let through, and is open.
    let delivered = 400 - stats["shed"].as_u64().unwrap();
    for r in readers.iter_mut() {
        for _ in 0..delivered {
            assert_eq!(next_json(r).await["topic"], "burst");
        }
    }
    gw.stop().await;
}
