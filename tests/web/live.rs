//! The registry on real sockets: the dev gateway and nats-server, started by
//! `tests/live-harness.mjs` (which `npm test` runs). Each test is marked
//! `#[ignore]`: a bare `wasm-pack test --headless --chrome` lists them as
//! ignored rather than passing them, and the harness runs them with
//! `--include-ignored`. Included without the harness, they fail and say so.

use js_sys::{Array, Function, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use super::{counts, get, js, m, registry, row, sleep, snapshot, status_of};

const GATEWAY: Option<&str> = option_env!("WR_GATEWAY_URL");
const GATEWAY_HTTP: Option<&str> = option_env!("WR_GATEWAY_HTTP");
const AUTH_GATEWAY: Option<&str> = option_env!("WR_AUTH_GATEWAY_URL");
const AUTH_GATEWAY_HTTP: Option<&str> = option_env!("WR_AUTH_GATEWAY_HTTP");
const TOKEN: Option<&str> = option_env!("WR_GATEWAY_TOKEN");
const HARNESS: Option<&str> = option_env!("WR_HARNESS_URL");
const NATS: Option<&str> = option_env!("WR_NATS_URL");

/// The harness's nats-server account that may read health beats.
const DASHBOARD: &str = "protocol: 'nats', user: 'dashboard', pass: 'dash-secret'";

/// Fast reconnects and keepalive, so failures are seen within a second.
const FAST: &str = "backoff: {initialMs: 50, maxMs: 400}, pingIntervalMs: 400, pongTimeoutMs: 400";

const NEEDS: &str = "needs the live servers: npm test runs it through tests/live-harness.mjs";

/// The open gateway's URL, its HTTP base, and the harness's control URL.
fn live() -> (&'static str, &'static str, &'static str) {
    match (GATEWAY, GATEWAY_HTTP, HARNESS) {
        (Some(g), Some(h), Some(c)) => (g, h, c),
        _ => panic!("{NEEDS} (run `node tests/live-harness.mjs`)"),
    }
}

/// A URL the harness compiled in.
fn env(value: Option<&'static str>) -> &'static str {
    live();
    value.unwrap_or_else(|| panic!("{NEEDS}"))
}

async fn fetch(url: &str, method: &str, body: Option<String>) -> Result<String, String> {
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"method".into(), &method.into()).unwrap();
    if let Some(b) = body {
        js_sys::Reflect::set(&init, &"body".into(), &b.into()).unwrap();
    }
    let f: Function = js("(u, i) => fetch(u, i).then(async (r) => { const t = await r.text(); if (!r.ok) throw new Error(t); return t; })").unchecked_into();
    let p: Promise = f
        .call2(&JsValue::NULL, &url.into(), &init)
        .unwrap()
        .unchecked_into();
    JsFuture::from(p)
        .await
        .map(|v| v.as_string().unwrap_or_default())
        .map_err(|e| format!("{e:?}"))
}

/// Asks the harness to act on a server: `gw/open/stop`, `nats/start` ...
async fn harness(path: &str) {
    harness_with(path, None).await
}

async fn harness_with(path: &str, body: Option<String>) {
    let url = format!("{}/{path}", HARNESS.unwrap());
    fetch(&url, "POST", body)
        .await
        .unwrap_or_else(|e| panic!("harness {path}: {e}"));
}

async fn publish(gateway: &str, topic: &str, payload: &str) {
    let body = format!(r#"{{"topic":"{topic}","payload":{payload}}}"#);
    harness_with(&format!("gw/{gateway}/publish"), Some(body)).await;
}

async fn nats_publish(subject: &str, body: &str) {
    let body = format!(r#"{{"subject":"{subject}","body":{body}}}"#);
    harness_with("nats/publish", Some(body)).await;
}

/// The gateway's own counts (`/admin/stats`), or None while it is down.
async fn admin(http: &str) -> Option<JsValue> {
    let text = fetch(&format!("{http}/admin/stats"), "GET", None)
        .await
        .ok()?;
    JSON::parse(&text).ok()
}

async fn admin_count(http: &str, key: &str) -> Option<f64> {
    admin(http).await.and_then(|s| get(&s, key).as_f64())
}

/// Polls until `check` holds; an error after `ms`.
async fn until<F, Fut>(ms: u32, what: &str, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = js_sys::Date::now();
    loop {
        if check().await {
            return Ok(());
        }
        if js_sys::Date::now() - start > ms as f64 {
            return Err(format!("timed out after {ms} ms waiting until {what}"));
        }
        sleep(20).await;
    }
}

fn conn(reg: &JsValue) -> JsValue {
    m(reg, "connection", &[])
}

fn state(reg: &JsValue) -> String {
    get(&conn(reg), "state").as_string().unwrap()
}

fn last_error(reg: &JsValue) -> Option<String> {
    get(&conn(reg), "last_error").as_string()
}

fn start(reg: &JsValue, url: &str, options: &str) {
    let opts = js(&format!("({{{FAST}, {options}}})"));
    m(reg, "start", &[url.into(), opts]);
}

async fn stop(reg: &JsValue) {
    let p: Promise = m(reg, "stop", &[]).unchecked_into();
    JsFuture::from(p).await.unwrap();
}

/// Open, and the gateway has said its bus is up (its status frame follows
/// the first sub, so it may land just after the connection opens).
async fn wait_up(reg: &JsValue) {
    wait_open(reg).await;
    until(3000, "the gateway says its bus is up", || async {
        get(&conn(reg), "upstream").as_string().as_deref() == Some("up")
    })
    .await
    .unwrap();
}

async fn wait_open(reg: &JsValue) {
    let opened = until(5000, "the connection is open", || async {
        state(reg) == "open"
    })
    .await;
    if let Err(e) = opened {
        panic!(
            "{e}; connection(): {}",
            String::from(JSON::stringify(&conn(reg)).unwrap())
        );
    }
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn beats_arrive_and_retained_ones_make_rows_ok_at_once() {
    let (url, http, _) = live();
    // Beats published before the page connects are held by the gateway
    // and replayed, with their age, right after the subscription.
    publish(
        "open",
        "system.collector.health",
        r#"{"worker":"collector","ts":1764190000.5,"q":1}"#,
    )
    .await;
    publish(
        "open",
        "system.bus.health",
        r#"{"worker":"bus","ts":1764190000.5}"#,
    )
    .await;
    sleep(300).await;
    let reg = registry("{}");
    js("globalThis.__states = []");
    let listener: Function = js("(r) => { if (r === 'connection') { const c = globalThis.__live.connection(); globalThis.__states.push(c.state + '/' + c.upstream); } }").unchecked_into();
    js_sys::Reflect::set(&js("globalThis"), &"__live".into(), &reg).unwrap();
    m(&reg, "onChange", &[listener.into()]);
    start(&reg, url, "");
    wait_open(&reg).await;
    // Each replayed beat is its own frame: wait for both.
    until(2000, "the retained beats are in", || async {
        status_of(&reg, "collector") == "ok" && status_of(&reg, "bus") == "ok"
    })
    .await
    .unwrap();
    let collector = row(&reg, "collector");
    let since = get(&collector, "seconds_since").as_f64().unwrap();
    assert!(
        since >= 0.25,
        "a retained beat arrives aged ({since} s), not as new"
    );
    assert_eq!(get(&get(&collector, "extra"), "q").as_f64(), Some(1.0));
    assert_eq!(
        status_of(&reg, "bus"),
        "ok",
        "the bus's own beat, on its own topic"
    );
    // Live beats then arrive as they are published.
    publish(
        "open",
        "system.api.health",
        r#"{"worker":"api","ts":1764190001,"pid":7}"#,
    )
    .await;
    until(2000, "a live beat arrives", || async {
        status_of(&reg, "api") == "ok"
    })
    .await
    .unwrap();
    assert!(get(&row(&reg, "api"), "seconds_since").as_f64().unwrap() < 0.25);
    // Exactly one socket with exactly two subscriptions at the gateway.
    until(2000, "the gateway counts one client", || async {
        admin_count(http, "connections").await == Some(1.0)
            && admin_count(http, "subscriptions").await == Some(2.0)
    })
    .await
    .unwrap();
    let states: Vec<String> = Array::from(&js("globalThis.__states"))
        .iter()
        .map(|s| s.as_string().unwrap())
        .collect();
    // Connecting, then open, then the gateway says its bus is up (its status
    // frame follows the first sub). Listeners run once a frame is handled,
    // so when that frame is the first, both changes show the final state.
    assert_eq!(
        states.first().map(String::as_str),
        Some("connecting/unknown")
    );
    assert_eq!(states.last().map(String::as_str), Some("open/up"));
    assert_eq!(states.len(), 3, "{states:?}");
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn a_gateway_restart_keeps_rows_and_comes_back_with_one_socket() {
    let (url, http, _) = live();
    let reg = registry("{}");
    start(&reg, url, "");
    wait_open(&reg).await;
    publish(
        "open",
        "system.prober.health",
        r#"{"worker":"prober","ts":1764190000.5,"v":"1.2"}"#,
    )
    .await;
    until(2000, "prober is ok", || async {
        status_of(&reg, "prober") == "ok"
    })
    .await
    .unwrap();
    harness("gw/open/kill").await;
    until(3000, "the registry notices", || async {
        state(&reg) == "backoff"
    })
    .await
    .unwrap();
    let c = conn(&reg);
    assert_eq!(get(&c, "bus_connected").as_bool(), Some(false));
    assert!(get(&c, "attempts").as_f64().unwrap() >= 1.0);
    assert!(get(&c, "next_retry_ms").as_f64().is_some());
    assert!(last_error(&reg).is_some());
    // Rows keep their data (and keep ageing) while the bus is away.
    let prober = row(&reg, "prober");
    assert_eq!(get(&prober, "status").as_string().as_deref(), Some("ok"));
    assert_eq!(
        get(&get(&prober, "extra"), "v").as_string().as_deref(),
        Some("1.2")
    );
    sleep(300).await;
    harness("gw/open/start").await;
    wait_open(&reg).await;
    until(3000, "exactly one socket, subscribed twice", || async {
        admin_count(http, "connections").await == Some(1.0)
            && admin_count(http, "subscriptions").await == Some(2.0)
    })
    .await
    .unwrap();
    assert!(
        get(&row(&reg, "prober"), "seconds_since").as_f64().unwrap() >= 0.3,
        "still ageing"
    );
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn twenty_restarts_leave_one_socket_and_an_intact_registry() {
    let (url, http, _) = live();
    let reg = registry("{}");
    start(&reg, url, "");
    wait_open(&reg).await;
    publish(
        "open",
        "system.agent.health",
        r#"{"worker":"agent","realism":{"llm_enabled":true}}"#,
    )
    .await;
    until(2000, "agent is ok", || async {
        status_of(&reg, "agent") == "ok"
    })
    .await
    .unwrap();
    for i in 0..20 {
        // Alternate a clean stop (close 1001) and a kill (no close frame).
        harness(if i % 2 == 0 {
            "gw/open/stop"
        } else {
            "gw/open/kill"
        })
        .await;
        until(3000, "the registry notices", || async {
            state(&reg) != "open"
        })
        .await
        .unwrap();
        harness("gw/open/start").await;
        wait_open(&reg).await;
    }
    until(3000, "exactly one socket, subscribed twice", || async {
        admin_count(http, "connections").await == Some(1.0)
            && admin_count(http, "subscriptions").await == Some(2.0)
    })
    .await
    .unwrap();
    let extra = get(&row(&reg, "agent"), "extra");
    assert_eq!(
        JSON::stringify(&extra).unwrap(),
        r#"{"realism":{"llm_enabled":true}}"#
    );
    let (sockets, _) = counts();
    assert_eq!(sockets, 1, "the registry holds one socket, none leaked");
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn a_wrong_token_is_unauthorized_and_a_token_provider_recovers() {
    let (url, http, token) = (env(AUTH_GATEWAY), env(AUTH_GATEWAY_HTTP), env(TOKEN));
    let reg = registry("{}");
    start(&reg, url, "token: 'wrong'");
    until(3000, "the gateway refuses the token", || async {
        last_error(&reg).as_deref() == Some("unauthorized")
    })
    .await
    .unwrap();
    assert_eq!(get(&conn(&reg), "bus_connected").as_bool(), Some(false));
    stop(&reg).await;
    // A provider asked before every attempt: wrong twice, then right.
    js("globalThis.__asked = 0");
    js(&format!(
        "globalThis.__provider = async () => (++globalThis.__asked < 3 ? 'expired' : '{token}')"
    ));
    let reg = registry("{}");
    start(&reg, url, "tokenProvider: globalThis.__provider");
    until(5000, "the third token is accepted", || async {
        state(&reg) == "open"
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {:?} asked {:?}",
            JSON::stringify(&conn(&reg)),
            js("globalThis.__asked")
        )
    });
    assert_eq!(
        js("globalThis.__asked").as_f64(),
        Some(3.0),
        "asked again on every attempt"
    );
    assert_eq!(
        last_error(&reg).as_deref(),
        Some("unauthorized"),
        "the last failure is still shown"
    );
    publish("auth", "system.api.health", r#"{"worker":"api"}"#).await;
    until(2000, "beats flow once authorised", || async {
        status_of(&reg, "api") == "ok"
    })
    .await
    .unwrap();
    until(2000, "one client", || async {
        admin_count(http, "connections").await == Some(1.0)
    })
    .await
    .unwrap();
    stop(&reg).await;
    // A provider that throws is a clear error, and the registry retries.
    let reg = registry("{}");
    start(
        &reg,
        url,
        "tokenProvider: () => { throw new Error('ticket service down'); }",
    );
    until(2000, "the provider's failure is shown", || async {
        last_error(&reg).is_some_and(|e| e.contains("tokenProvider failed: ticket service down"))
    })
    .await
    .unwrap();
    assert_eq!(state(&reg), "backoff");
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn stop_leaves_nothing_behind_and_start_works_again() {
    let (url, http, _) = live();
    let before = counts();
    let reg = registry("{}");
    js("globalThis.__after_stop = 0");
    start(&reg, url, "");
    wait_open(&reg).await;
    let listener: Function = js("() => globalThis.__after_stop++").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    publish("open", "system.sniffer.health", r#"{"worker":"sniffer"}"#).await;
    until(2000, "sniffer is ok", || async {
        status_of(&reg, "sniffer") == "ok"
    })
    .await
    .unwrap();
    stop(&reg).await;
    assert_eq!(state(&reg), "closed");
    assert_eq!(counts(), before, "no socket and no timer left");
    until(2000, "the gateway sees the close", || async {
        admin_count(http, "connections").await == Some(0.0)
    })
    .await
    .unwrap();
    js("globalThis.__after_stop = 0");
    publish("open", "system.sniffer.health", r#"{"worker":"sniffer"}"#).await;
    harness("gw/open/kill").await;
    harness("gw/open/start").await;
    sleep(800).await;
    assert_eq!(
        js("globalThis.__after_stop").as_f64(),
        Some(0.0),
        "no callback fires after stop()"
    );
    assert_eq!(status_of(&reg, "sniffer"), "ok", "recorded beats are kept");
    // start() after stop() connects again.
    start(&reg, url, "");
    wait_open(&reg).await;
    until(2000, "one client", || async {
        admin_count(http, "connections").await == Some(1.0)
    })
    .await
    .unwrap();
    stop(&reg).await;
    m(&reg, "free", &[]);
    assert_eq!(counts(), before);
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn start_is_idempotent_and_another_url_switches() {
    let (url, http, _) = live();
    let (auth_url, auth_http, token) = (env(AUTH_GATEWAY), env(AUTH_GATEWAY_HTTP), env(TOKEN));
    let reg = registry("{}");
    start(&reg, url, "");
    wait_up(&reg).await;
    js("globalThis.__changes = 0");
    // Connection changes only: beats the gateway retained from earlier
    // tests may still be arriving.
    let listener: Function =
        js("(r) => { if (r === 'connection') globalThis.__changes++; }").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    let total = admin_count(http, "total_connections").await;
    start(&reg, url, "");
    start(&reg, url, "");
    sleep(200).await;
    assert_eq!(
        js("globalThis.__changes").as_f64(),
        Some(0.0),
        "the same URL and options change nothing"
    );
    assert_eq!(
        admin_count(http, "total_connections").await,
        total,
        "and opens no new socket"
    );
    start(&reg, auth_url, &format!("token: '{token}'"));
    wait_open(&reg).await;
    assert_eq!(
        get(&conn(&reg), "url").as_string().as_deref(),
        Some(auth_url)
    );
    until(2000, "the old gateway is left", || async {
        admin_count(http, "connections").await == Some(0.0)
    })
    .await
    .unwrap();
    until(2000, "the new one has the client", || async {
        admin_count(auth_http, "connections").await == Some(1.0)
    })
    .await
    .unwrap();
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn a_hung_server_is_detected_by_the_keepalive() {
    let (url, _, _) = live();
    let reg = registry("{}");
    start(&reg, url, "");
    wait_open(&reg).await;
    // The process stops answering but keeps its sockets: no close arrives.
    harness("gw/open/pause").await;
    let t0 = js_sys::Date::now();
    until(3000, "the keepalive gives up", || async {
        state(&reg) != "open"
    })
    .await
    .unwrap();
    let took = js_sys::Date::now() - t0;
    assert!(took < 1500.0, "detected within ping + pong ({took} ms)");
    let e = last_error(&reg).unwrap_or_default();
    assert!(e.contains("keepalive") || e.contains("no answer"), "{e}");
    // While hung, attempts cannot complete: they time out, never hang.
    sleep(1200).await;
    assert_ne!(state(&reg), "open");
    assert!(
        get(&conn(&reg), "attempts").as_f64().unwrap() >= 2.0,
        "attempts keep being made"
    );
    harness("gw/open/resume").await;
    wait_open(&reg).await;
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn binary_frames_are_taken_like_text() {
    let (_, http, _) = live();
    let reg = registry("{}");
    // The flood socket sends pre-encoded beats as binary frames, then a
    // control frame, then closes.
    let url = format!(
        "{}/admin/flood?count=200&kind=beat&binary=1",
        http.replace("http://", "ws://")
    );
    start(&reg, &url, "");
    until(5000, "the flood is in", || async {
        get(&m(&reg, "stats", &[]), "accepted").as_f64() == Some(200.0)
    })
    .await
    .unwrap();
    assert!(
        snapshot(&reg)
            .iter()
            .filter(|r| get(r, "status").as_string().as_deref() == Some("ok"))
            .count()
            >= 5
    );
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn nats_rows_turn_ok_from_beats_published_on_nats() {
    let url = env(NATS);
    let reg = registry("{}");
    start(&reg, url, DASHBOARD);
    wait_open(&reg).await;
    // A bare heartbeat, as `nats pub` sends it, and a bus envelope.
    nats_publish(
        "system.api.health",
        r#"{"worker":"api","ts":1764190000.5,"pid":3}"#,
    )
    .await;
    nats_publish(
        "system.bus.health",
        r#"{"v":1,"id":"ab","topic":"system.intruder.health","type":"health","ts":1,"payload":{"worker":"bus","ts":1764190000.5}}"#,
    )
    .await;
    nats_publish("system.intruder.health", r#"{"worker":"intruder"}"#).await;
    until(3000, "NATS beats arrive", || async {
        status_of(&reg, "api") == "ok" && status_of(&reg, "bus") == "ok"
    })
    .await
    .unwrap();
    assert_eq!(
        get(&get(&row(&reg, "api"), "extra"), "pid").as_f64(),
        Some(3.0)
    );
    // The subject, not the body's topic, names the worker.
    assert_eq!(
        get(&get(&m(&reg, "stats", &[]), "rejected"), "unknown_worker").as_f64(),
        Some(1.0)
    );
    // A heartbeat larger than the 4 KiB frames the server cuts it into.
    let pad = "x".repeat(10_000);
    nats_publish(
        "system.profiler.health",
        &format!(r#"{{"worker":"profiler","pad":"{pad}"}}"#),
    )
    .await;
    until(3000, "the big beat arrives", || async {
        status_of(&reg, "profiler") == "ok"
    })
    .await
    .unwrap();
    assert_eq!(
        get(&get(&row(&reg, "profiler"), "extra"), "pad")
            .as_string()
            .map(|s| s.len()),
        Some(10_000)
    );
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn nats_wrong_password_and_permission_violation() {
    let url = env(NATS);
    let reg = registry("{}");
    start(
        &reg,
        url,
        "protocol: 'nats', user: 'dashboard', pass: 'wrong'",
    );
    until(3000, "the server refuses", || async {
        last_error(&reg)
            .is_some_and(|e| e.starts_with("unauthorized") && e.contains("Authorization Violation"))
    })
    .await
    .unwrap();
    assert_eq!(get(&conn(&reg), "bus_connected").as_bool(), Some(false));
    stop(&reg).await;
    // `limited` may not subscribe to system.bus.health: the server says so,
    // and the other subscription keeps working.
    let reg = registry("{}");
    start(
        &reg,
        url,
        "protocol: 'nats', user: 'limited', pass: 'limited-secret'",
    );
    wait_open(&reg).await;
    until(3000, "the violation is recorded", || async {
        last_error(&reg).is_some_and(|e| e.contains("Permissions Violation"))
    })
    .await
    .unwrap();
    nats_publish("system.mutator.health", r#"{"worker":"mutator"}"#).await;
    until(3000, "beats still arrive", || async {
        status_of(&reg, "mutator") == "ok"
    })
    .await
    .unwrap();
    assert_eq!(state(&reg), "open");
    stop(&reg).await;
}

#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn nats_restart_brings_the_registry_back_resubscribed() {
    let url = env(NATS);
    let before = counts();
    let reg = registry("{}");
    start(&reg, url, DASHBOARD);
    wait_open(&reg).await;
    nats_publish("system.forwarder.health", r#"{"worker":"forwarder","n":1}"#).await;
    until(3000, "forwarder is ok", || async {
        status_of(&reg, "forwarder") == "ok"
    })
    .await
    .unwrap();
    harness("nats/stop").await;
    until(3000, "the registry notices", || async {
        state(&reg) == "backoff"
    })
    .await
    .unwrap();
    assert_eq!(
        status_of(&reg, "forwarder"),
        "ok",
        "rows intact while the bus is away"
    );
    harness("nats/start").await;
    wait_open(&reg).await;
    nats_publish("system.forwarder.health", r#"{"worker":"forwarder","n":2}"#).await;
    until(3000, "resubscribed", || async {
        get(&get(&row(&reg, "forwarder"), "extra"), "n").as_f64() == Some(2.0)
    })
    .await
    .unwrap();
    stop(&reg).await;
    assert_eq!(counts(), before, "stop() leaves no socket and no timer");
}

/// Item 1 of the shell issue: with `pingIntervalMs < pongTimeoutMs`, each
/// ping replaced the previous ping's deadline and a frozen gateway was never
/// detected.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn a_frozen_gateway_is_detected_with_frequent_pings() {
    let (url, _, _) = live();
    let reg = registry("{}");
    let opts =
        js("({backoff: {initialMs: 50, maxMs: 400}, pingIntervalMs: 500, pongTimeoutMs: 700})");
    m(&reg, "start", &[url.into(), opts]);
    wait_open(&reg).await;
    harness("gw/open/pause").await;
    let t0 = js_sys::Date::now();
    let detected = until(4000, "the keepalive gives up", || async {
        !get(&conn(&reg), "bus_connected").as_bool().unwrap()
    })
    .await;
    harness("gw/open/resume").await;
    detected.unwrap();
    let took = js_sys::Date::now() - t0;
    assert!(
        took < 1800.0,
        "detected within one ping and its timeout ({took} ms)"
    );
    let e = last_error(&reg).unwrap_or_default();
    assert!(e.contains("keepalive"), "{e}");
    wait_open(&reg).await;
    stop(&reg).await;
}

/// Item 2 of the shell issue: a listener that calls `start(otherUrl)` on the
/// "connecting" event left the registry stuck in `connecting`.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn start_from_a_connecting_listener_switches_and_connects() {
    let (url, _, _) = live();
    let before = counts();
    let reg = registry("{}");
    Reflect::set(&js("globalThis"), &"__switcher".into(), &reg).unwrap();
    js(&format!("globalThis.__switch_to = {:?}", url));
    let listener: Function = js(
        "(r) => { const reg = globalThis.__switcher; if (r === 'connection' && reg.connection().state === 'connecting' && globalThis.__switch_to) { const u = globalThis.__switch_to; globalThis.__switch_to = null; reg.start(u); } }",
    )
    .unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    m(&reg, "start", &["ws://127.0.0.1:9/bus".into()]);
    wait_open(&reg).await;
    assert_eq!(get(&conn(&reg), "url").as_string().as_deref(), Some(url));
    assert_eq!(counts().0, before.0 + 1, "one socket, the new one");
    stop(&reg).await;
    m(&reg, "free", &[]);
    assert_eq!(counts(), before);
}

/// Item 3 of the shell issue: after `stop()` and `start()`, "status" never
/// fired again until a beat arrived; and after a wall-clock jump it came
/// late. The clock here is the page's own, shifted on demand.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn status_keeps_firing_after_stop_start_and_a_clock_jump() {
    let (url, _, _) = live();
    js("globalThis.__shift = 0; globalThis.__statuses = 0");
    let reg = registry(
        "{okWindowSeconds: 1.5, clock: { monoMs: () => performance.now(), wallMs: () => Date.now() + globalThis.__shift }}",
    );
    let listener: Function =
        js("(r) => { if (r === 'status') globalThis.__statuses++; }").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    start(&reg, url, "");
    wait_open(&reg).await;
    publish("open", "system.prober.health", r#"{"worker":"prober"}"#).await;
    until(2000, "prober is ok", || async {
        status_of(&reg, "prober") == "ok"
    })
    .await
    .unwrap();
    stop(&reg).await;
    start(&reg, url, "");
    until(3000, "status fires after stop() and start()", || async {
        js("globalThis.__statuses").as_f64() == Some(1.0)
    })
    .await
    .unwrap();
    // A fresh beat, then the wall clock jumps ten minutes (a laptop wakes):
    // "status" comes at the next timer tick (the 400 ms ping), not 1.5 s
    // later.
    publish("open", "system.prober.health", r#"{"worker":"prober"}"#).await;
    until(2000, "prober is ok again", || async {
        status_of(&reg, "prober") == "ok"
    })
    .await
    .unwrap();
    let t0 = js_sys::Date::now();
    js("globalThis.__shift = 600000");
    until(1400, "status fires after the jump", || async {
        js("globalThis.__statuses").as_f64() == Some(2.0)
    })
    .await
    .unwrap();
    assert!(js_sys::Date::now() - t0 < 1400.0);
    assert_eq!(status_of(&reg, "prober"), "stale");
    stop(&reg).await;
}

/// Item 8 of the shell issue: `start(sameUrl, {token: newToken})` silently
/// kept the old token.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn start_with_a_rotated_token_reconnects_with_it() {
    let (auth_url, token) = (env(AUTH_GATEWAY), env(TOKEN));
    let reg = registry("{}");
    start(&reg, auth_url, "token: 'expired'");
    until(3000, "the old token is refused", || async {
        last_error(&reg).as_deref() == Some("unauthorized")
    })
    .await
    .unwrap();
    start(&reg, auth_url, &format!("token: '{token}'"));
    wait_open(&reg).await;
    stop(&reg).await;
}

/// Item 7 of the shell issue: with a small `maxFrameBytes`, nats-server's
/// WebSocket messages (its INFO alone is several hundred bytes) overflowed
/// the copy buffer and the registry reconnected in a loop.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn nats_works_with_a_small_max_frame_bytes() {
    let url = env(NATS);
    let reg = registry("{maxFrameBytes: 100}");
    start(&reg, url, DASHBOARD);
    wait_open(&reg).await;
    nats_publish("system.agent.health", r#"{"worker":"agent","ts":1}"#).await;
    until(3000, "agent is ok", || async {
        status_of(&reg, "agent") == "ok"
    })
    .await
    .unwrap();
    assert_eq!(state(&reg), "open");
    assert_eq!(
        get(&conn(&reg), "attempts").as_f64(),
        Some(0.0),
        "no reconnect loop"
    );
    stop(&reg).await;
}

/// Item 4 of the shell issue: on NATS, a `system.bus.health` beat matches
/// both subscriptions and was ingested twice.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn a_nats_bus_beat_counts_once() {
    let url = env(NATS);
    let reg = registry("{}");
    start(&reg, url, DASHBOARD);
    wait_open(&reg).await;
    js("globalThis.__beats = 0");
    let listener: Function =
        js("(r) => { if (r === 'beat') globalThis.__beats++; }").unchecked_into();
    m(&reg, "onChange", &[listener.into()]);
    nats_publish("system.bus.health", r#"{"worker":"bus","ts":1}"#).await;
    until(3000, "bus is ok", || async {
        status_of(&reg, "bus") == "ok"
    })
    .await
    .unwrap();
    sleep(300).await;
    assert_eq!(get(&m(&reg, "stats", &[]), "accepted").as_f64(), Some(1.0));
    assert_eq!(js("globalThis.__beats").as_f64(), Some(1.0));
    stop(&reg).await;
}

/// `start(urls)` with a list: a dead replica first, a live one second.
#[wasm_bindgen_test]
#[ignore = "needs the live servers: npm test runs it through tests/live-harness.mjs"]
async fn a_list_of_urls_is_tried_in_turn() {
    let (url, _, _) = live();
    let reg = registry("{}");
    let list: Array = ["ws://127.0.0.1:9/bus", url]
        .iter()
        .map(|u| JsValue::from(*u))
        .collect();
    m(&reg, "start", &[list.into(), js(&format!("({{{FAST}}})"))]);
    wait_open(&reg).await;
    assert_eq!(get(&conn(&reg), "url").as_string().as_deref(), Some(url));
    stop(&reg).await;
}
