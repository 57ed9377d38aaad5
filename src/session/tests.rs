//! The session with a driven clock: every action executed as the browser
//! shell executes it, listeners that call back in included.

use super::*;
use crate::registry::Config;

const WALL0: f64 = 1_764_190_000_000.0;

/// Executes a session's actions like `connection.rs`, with a driven clock,
/// fake sockets and timers, and an optional listener that may call back
/// into the session.
struct Driver {
    s: Session,
    mono: f64,
    wall: f64,
    /// (generation, url), and whether it is still open.
    sockets: Vec<(u32, String, bool)>,
    timers: [Option<(f64, u32)>; 6],
    sent: Vec<String>,
    emitted: Vec<Change>,
    tokens_asked: Vec<u32>,
    /// How often the status timer was armed.
    status_arms: usize,
    #[allow(clippy::type_complexity)]
    listener: Option<Box<dyn FnMut(&mut Session, Change, Instant)>>,
}

impl Driver {
    fn new(config: Config) -> Driver {
        Driver {
            s: Session::new(Registry::new(config).unwrap(), 7),
            mono: 1_000.0,
            wall: WALL0,
            sockets: Vec::new(),
            timers: [None; 6],
            sent: Vec::new(),
            emitted: Vec::new(),
            tokens_asked: Vec::new(),
            status_arms: 0,
            listener: None,
        }
    }

    fn default() -> Driver {
        Driver::new(Config::default())
    }

    fn now(&self) -> Instant {
        Instant {
            mono_ms: self.mono,
            wall_ms: self.wall,
        }
    }

    fn drain(&mut self) {
        while let Some(a) = self.s.poll() {
            match a {
                Action::Open { generation, url } => {
                    for s in self.sockets.iter_mut() {
                        s.2 = false;
                    }
                    self.sockets.push((generation, url, true));
                }
                Action::FetchToken { generation } => self.tokens_asked.push(generation),
                Action::Send { generation, text } => {
                    assert_eq!(
                        Some(generation),
                        self.open_socket(),
                        "sent on a live socket"
                    );
                    self.sent.push(text);
                }
                Action::Close { generation, .. } => {
                    for s in self.sockets.iter_mut().filter(|s| s.0 == generation) {
                        s.2 = false;
                    }
                }
                Action::Arm { timer, ms, serial } => {
                    self.status_arms += usize::from(timer == Timer::Status);
                    self.timers[timer as usize] = Some((self.mono + ms, serial))
                }
                Action::Cancel { timer } => self.timers[timer as usize] = None,
                Action::Emit(c) => {
                    self.emitted.push(c);
                    if let Some(mut l) = self.listener.take() {
                        let now = self.now();
                        l(&mut self.s, c, now);
                        self.listener = Some(l);
                    }
                }
            }
        }
    }

    fn open_socket(&self) -> Option<u32> {
        let open: Vec<u32> = self.sockets.iter().filter(|s| s.2).map(|s| s.0).collect();
        assert!(open.len() <= 1, "at most one open socket: {open:?}");
        open.first().copied()
    }

    fn armed(&self) -> Vec<Timer> {
        Timer::ALL
            .into_iter()
            .filter(|t| self.timers[*t as usize].is_some())
            .collect()
    }

    fn start(&mut self, urls: &[&str], settings: Settings) {
        let now = self.now();
        self.s
            .start(urls.iter().map(|u| u.to_string()).collect(), settings, now);
        self.drain();
    }

    fn stop(&mut self) {
        self.s.stop();
        self.drain();
    }

    /// The socket of the current attempt opens.
    fn opened(&mut self) {
        let g = self.open_socket().expect("a socket to open");
        let now = self.now();
        self.s.on_open(g, now);
        self.drain();
    }

    fn frame(&mut self, text: &str) -> Outcome {
        let g = self.open_socket().expect("a socket for the frame");
        let now = self.now();
        let o = self
            .s
            .on_gateway_frame(g, Loaded::Bytes(text.as_bytes()), &now);
        self.drain();
        o
    }

    fn nats(&mut self, bytes: &[u8]) {
        let g = self.open_socket().expect("a socket for the chunk");
        let now = self.now();
        self.s.on_nats_chunk(g, bytes, &now);
        self.drain();
    }

    fn closed(&mut self, code: u16) {
        let g = self.open_socket().expect("a socket to close");
        let now = self.now();
        self.s.on_close(g, code, "", now);
        self.drain();
    }

    /// Moves both clocks forward `ms`, firing every timer that falls due on
    /// the way, in order.
    fn advance(&mut self, ms: f64) {
        let end = self.mono + ms;
        loop {
            let next = Timer::ALL
                .into_iter()
                .filter_map(|t| self.timers[t as usize].map(|(due, serial)| (due, t, serial)))
                .filter(|(due, _, _)| *due <= end)
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let Some((due, timer, serial)) = next else {
                break;
            };
            self.wall += due.max(self.mono) - self.mono;
            self.mono = due.max(self.mono);
            self.timers[timer as usize] = None;
            let now = self.now();
            self.s.on_timer(timer, serial, now);
            self.drain();
        }
        self.wall += end - self.mono;
        self.mono = end;
    }

    fn state(&self) -> &'static str {
        self.s.status(self.now()).state
    }

    fn count(&self, change: Change) -> usize {
        self.emitted.iter().filter(|c| **c == change).count()
    }
}

fn beat(worker: &str) -> String {
    format!(
        r#"{{"v":1,"id":"ab12","topic":"system.{worker}.health","type":"health","ts":1764190000.5,"payload":{{"worker":"{worker}","ts":1764190000.5}}}}"#
    )
}

fn gateway(ping: f64, pong: f64) -> Settings {
    Settings {
        ping_interval_ms: ping,
        pong_timeout_ms: pong,
        ..Settings::default()
    }
}

fn nats() -> Settings {
    Settings {
        protocol: Protocol::Nats,
        ..Settings::default()
    }
}

const URL: &str = "ws://127.0.0.1:1/bus";

#[test]
fn a_connection_greets_subscribes_and_opens_on_the_first_answer() {
    let mut d = Driver::default();
    d.start(&[URL], Settings::default());
    assert_eq!(d.state(), "connecting");
    assert_eq!(d.sockets.len(), 1);
    assert_eq!(d.armed(), [Timer::Connect]);
    d.opened();
    assert_eq!(d.sent.len(), 3, "two subscriptions and a ping");
    assert!(d.sent[0].contains(r#""pattern":"system.*.health""#));
    assert_eq!(d.armed(), [Timer::Greeting, Timer::Ping]);
    assert_eq!(d.state(), "connecting", "open only once the server answers");
    d.frame(r#"{"op":"pong"}"#);
    assert_eq!(d.state(), "open");
    assert_eq!(d.armed(), [Timer::Ping]);
    let s = d.s.status(d.now());
    assert!(s.bus_connected);
    assert_eq!(s.upstream, "unknown");
    assert_eq!(s.url, Some(URL));
}

/// Item 1: with pings more frequent than the pong timeout, each ping used
/// to replace the previous ping's deadline, so a frozen gateway was never
/// detected.
#[test]
fn a_frozen_gateway_is_detected_when_pings_are_more_frequent_than_the_timeout() {
    let mut d = Driver::default();
    d.start(&[URL], gateway(500.0, 700.0));
    d.opened();
    d.frame(r#"{"op":"pong"}"#);
    assert_eq!(d.state(), "open");
    // The gateway freezes: nothing arrives any more. Ping at 500 ms, its
    // deadline at 1200 ms; the ping at 1000 ms must not postpone it.
    d.advance(1_199.0);
    assert_eq!(d.state(), "open");
    d.advance(2.0);
    assert_eq!(d.state(), "backoff");
    assert_eq!(
        d.s.status(d.now()).last_error,
        Some("no answer to a keepalive ping within 700 ms")
    );
    assert_eq!(d.open_socket(), None, "the dead socket is closed");
}

#[test]
fn any_frame_answers_the_keepalive() {
    let mut d = Driver::default();
    d.start(&[URL], gateway(500.0, 700.0));
    d.opened();
    for _ in 0..20 {
        d.advance(300.0);
        d.frame(&beat("api"));
    }
    assert_eq!(d.state(), "open");
}

/// The same single slot could leave a silent server connecting forever: a
/// ping's deadline replaced the greeting's, and was then replaced again.
#[test]
fn a_silent_server_is_not_left_connecting() {
    let mut d = Driver::default();
    d.start(&[URL], gateway(300.0, 1_000.0));
    d.opened();
    d.advance(1_001.0);
    assert_eq!(d.state(), "backoff");
    assert_eq!(
        d.s.status(d.now()).last_error,
        Some("no answer from the server within 1000 ms")
    );
}

#[test]
fn a_socket_that_never_opens_times_out() {
    let mut d = Driver::default();
    d.start(&[URL], gateway(20_000.0, 800.0));
    d.advance(801.0);
    assert_eq!(d.state(), "backoff");
    assert_eq!(
        d.s.status(d.now()).last_error,
        Some("could not connect within 800 ms")
    );
}

/// Item 2: a listener that calls `stop()` on the "connecting" event.
#[test]
fn stop_from_a_connecting_listener_leaves_no_socket_and_no_timer() {
    let mut d = Driver::default();
    d.listener = Some(Box::new(|s, c, _| {
        if c == Change::Connection && s.state() == State::Connecting {
            s.stop();
        }
    }));
    d.start(&[URL], Settings::default());
    assert_eq!(d.state(), "closed");
    assert_eq!(d.open_socket(), None, "no socket left open");
    assert_eq!(d.armed(), [], "no timer left armed");
}

/// Item 2: one that calls `start(otherUrl)` there.
#[test]
fn start_from_a_connecting_listener_switches_cleanly() {
    let mut d = Driver::default();
    let mut switched = false;
    d.listener = Some(Box::new(move |s, c, now| {
        if c == Change::Connection && s.state() == State::Connecting && !switched {
            switched = true;
            s.start(
                vec!["ws://127.0.0.1:2/bus".into()],
                Settings::default(),
                now,
            );
        }
    }));
    d.start(&[URL], Settings::default());
    let open: Vec<_> = d.sockets.iter().filter(|s| s.2).collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].1, "ws://127.0.0.1:2/bus");
    assert_eq!(open[0].0, d.s.generation());
    d.opened();
    d.frame(r#"{"op":"pong"}"#);
    assert_eq!(d.state(), "open", "not stuck in connecting");
}

/// Item 2: `mark_open` emitted before the frame was handled, so a `stop()`
/// on the "open" event was followed by the frame arming the status timer.
#[test]
fn stop_from_the_open_listener_is_not_undone_by_the_frame() {
    let mut d = Driver::default();
    d.listener = Some(Box::new(|s, c, _| {
        if c == Change::Connection && s.state() == State::Open {
            s.stop();
        }
    }));
    d.start(&[URL], Settings::default());
    d.opened();
    d.frame(&beat("api"));
    assert_eq!(d.state(), "closed");
    assert_eq!(d.armed(), [], "no status timer after stop()");
    assert_eq!(d.open_socket(), None);
}

/// Item 3: after `stop()` and `start()`, "status" fired again only once
/// some beat arrived.
#[test]
fn status_keeps_firing_after_stop_and_start() {
    let mut d = Driver::new(Config {
        ok_window_seconds: 10.0,
        ..Config::default()
    });
    d.start(&[URL], Settings::default());
    d.opened();
    d.frame(&beat("api"));
    assert!(d.armed().contains(&Timer::Status));
    d.stop();
    assert_eq!(d.armed(), []);
    d.start(&[URL], Settings::default());
    assert!(d.armed().contains(&Timer::Status), "re-armed by start()");
    d.advance(10_001.0);
    assert_eq!(d.count(Change::Status), 1);
}

/// Item 3: the status deadline followed the monotonic clock only. After a
/// laptop wakes up (the wall clock ran, the monotonic one stood still),
/// "status" comes at the next timer tick.
#[test]
fn status_fires_on_the_next_tick_after_the_wall_clock_jumps() {
    let mut d = Driver::default();
    d.start(&[URL], gateway(20_000.0, 10_000.0));
    d.opened();
    d.frame(&beat("api"));
    d.advance(5_000.0);
    d.frame(r#"{"op":"pong"}"#);
    assert_eq!(d.count(Change::Status), 0);
    // Asleep for ten minutes: only the wall clock moved.
    d.wall += 600_000.0;
    d.advance(15_001.0);
    assert_eq!(d.count(Change::Status), 1, "at the ping tick, not at 90 s");
    let row = d.s.registry().row(0, d.now());
    assert_eq!(row.status, crate::registry::Status::Stale);
}

/// Item 4: on NATS, `system.bus.health` matches both subscriptions and the
/// server delivers it twice.
#[test]
fn a_nats_bus_beat_is_ingested_once() {
    let mut d = Driver::default();
    d.start(&[URL], nats());
    d.opened();
    d.nats(b"INFO {\"max_payload\":1048576}\r\n");
    assert!(d.sent[0].starts_with("CONNECT "));
    d.nats(b"PONG\r\n");
    assert_eq!(d.state(), "open");
    let body = br#"{"worker":"bus","ts":1764190000.5}"#;
    let mut msgs = Vec::new();
    for sid in ["1", "2"] {
        msgs.extend_from_slice(
            format!("MSG system.bus.health {sid} {}\r\n", body.len()).as_bytes(),
        );
        msgs.extend_from_slice(body);
        msgs.extend_from_slice(b"\r\n");
    }
    d.nats(&msgs);
    assert_eq!(d.s.registry().stats().accepted, 1);
    assert_eq!(d.count(Change::Beat), 1);
}

#[test]
fn a_refused_wildcard_leaves_the_bus_subscription_to_count() {
    let mut d = Driver::default();
    d.start(&[URL], nats());
    d.opened();
    d.nats(b"INFO {}\r\n-ERR 'Permissions Violation for Subscription to \"system.*.health\"'\r\nPONG\r\n");
    let body = br#"{"worker":"bus"}"#;
    d.nats(
        format!(
            "MSG system.bus.health 2 {}\r\n{}\r\n",
            body.len(),
            "{\"worker\":\"bus\"}"
        )
        .as_bytes(),
    );
    assert_eq!(d.s.registry().stats().accepted, 1);
}

/// Item 7: nats-server sends WebSocket messages of several KiB. The shell
/// feeds them in chunks of its copy buffer, whatever `maxFrameBytes` is.
#[test]
fn a_nats_stream_cut_into_small_chunks_is_read_whole() {
    let mut d = Driver::new(Config {
        max_frame_bytes: 200,
        ..Config::default()
    });
    d.start(&[URL], nats());
    d.opened();
    let mut stream = b"INFO {\"max_payload\":1048576}\r\nPONG\r\n".to_vec();
    for w in ["api", "bus", "collector", "profiler"]
        .iter()
        .cycle()
        .take(60)
    {
        let body = format!(r#"{{"worker":"{w}","ts":1764190000.5}}"#);
        stream.extend_from_slice(
            format!("MSG system.{w}.health 1 {}\r\n{body}\r\n", body.len()).as_bytes(),
        );
    }
    assert!(stream.len() > 3_000);
    // 600 bytes: three bytes per allowed UTF-16 unit of a 200-byte frame,
    // the copy buffer that used to overflow.
    for chunk in stream.chunks(3 * 200) {
        d.nats(chunk);
    }
    assert_eq!(d.state(), "open");
    assert_eq!(d.s.registry().stats().accepted, 60);
}

/// Item 8: `start(sameUrl, {token: newToken})` kept the old token.
#[test]
fn start_with_a_rotated_token_reconnects_with_it() {
    let mut d = Driver::default();
    let with = |t: &str| Settings {
        token: Some(t.into()),
        ..Settings::default()
    };
    d.start(&[URL], with("old"));
    d.opened();
    d.frame(r#"{"op":"pong"}"#);
    let sockets = d.sockets.len();
    d.start(&[URL], with("old"));
    assert_eq!(d.sockets.len(), sockets, "the same options: a no-op");
    d.start(&[URL], with("new"));
    assert_eq!(d.sockets.len(), sockets + 1, "a new socket");
    d.opened();
    assert!(d.sent.last().unwrap().contains("ping"));
    let auth = &d.sent[d.sent.len() - 4];
    assert_eq!(auth, r#"{"op":"auth","token":"new"}"#);
    // Other keepalive values reconnect too.
    d.start(
        &[URL],
        Settings {
            ping_interval_ms: 1_000.0,
            ..with("new")
        },
    );
    assert_eq!(d.sockets.len(), sockets + 2);
}

#[test]
fn a_token_provider_is_asked_before_every_attempt() {
    let mut d = Driver::default();
    let settings = Settings {
        token_provider: Some(1),
        backoff: Backoff {
            initial_ms: 10.0,
            max_ms: 10.0,
        },
        ..Settings::default()
    };
    d.start(&[URL], settings);
    assert_eq!(d.tokens_asked.len(), 1);
    assert_eq!(d.sockets.len(), 0);
    // A stale answer (an older attempt) is ignored.
    let now = d.now();
    d.s.on_token(d.tokens_asked[0].wrapping_sub(1), Ok("x".into()), now);
    d.drain();
    assert_eq!(d.sockets.len(), 0);
    d.s.on_token(d.tokens_asked[0], Ok("t1".into()), now);
    d.drain();
    assert_eq!(d.sockets.len(), 1);
    d.opened();
    assert_eq!(d.sent[0], r#"{"op":"auth","token":"t1"}"#);
    d.closed(4401);
    assert_eq!(d.s.status(d.now()).last_error, Some("unauthorized"));
    d.advance(20.0);
    assert_eq!(d.tokens_asked.len(), 2, "asked again");
    let now = d.now();
    d.s.on_token(d.tokens_asked[1], Err("offline".into()), now);
    d.drain();
    assert_eq!(
        d.s.status(d.now()).last_error,
        Some("tokenProvider failed: offline")
    );
}

#[test]
fn a_token_provider_that_never_answers_times_out() {
    let mut d = Driver::default();
    d.start(
        &[URL],
        Settings {
            token_provider: Some(1),
            ..Settings::default()
        },
    );
    d.advance(TOKEN_TIMEOUT_MS + 1.0);
    assert_eq!(d.state(), "backoff");
    assert_eq!(
        d.s.status(d.now()).last_error,
        Some("no token from tokenProvider within 30000 ms")
    );
}

#[test]
fn a_list_of_urls_is_tried_in_turn() {
    let mut d = Driver::default();
    let urls = [
        "ws://127.0.0.1:1/bus",
        "ws://127.0.0.1:2/bus",
        "ws://127.0.0.1:3/bus",
    ];
    let settings = Settings {
        backoff: Backoff {
            initial_ms: 10.0,
            max_ms: 10.0,
        },
        ..Settings::default()
    };
    d.start(&urls, settings.clone());
    for expected in [1, 2, 0, 1] {
        d.closed(1006);
        d.advance(10.0);
        assert_eq!(d.sockets.last().unwrap().1, urls[expected]);
        assert_eq!(d.s.status(d.now()).url, Some(urls[expected]));
    }
    d.opened();
    d.frame(r#"{"op":"pong"}"#);
    assert_eq!(d.state(), "open");
    // The same list is a no-op; another list starts over at its first URL.
    let n = d.sockets.len();
    d.start(&urls, settings.clone());
    assert_eq!(d.sockets.len(), n);
    d.start(&urls[1..], settings);
    assert_eq!(d.sockets.last().unwrap().1, urls[1]);
}

#[test]
fn stale_socket_events_and_timer_firings_are_harmless() {
    let mut d = Driver::default();
    d.start(&[URL], Settings::default());
    let old = d.open_socket().unwrap();
    let now = d.now();
    d.stop();
    // Everything the old attempt could still report arrives late.
    d.s.on_open(old, now);
    d.s.on_gateway_frame(old, Loaded::Bytes(beat("api").as_bytes()), &now);
    d.s.on_nats_chunk(old, b"PING\r\n", &now);
    d.s.on_close(old, 1006, "", now);
    d.s.on_open_failed(old, "x", now);
    d.s.on_token(old, Ok("t".into()), now);
    for t in Timer::ALL {
        for serial in 0..20 {
            d.s.on_timer(t, serial, now);
        }
    }
    d.drain();
    assert_eq!(d.state(), "closed");
    assert_eq!(d.armed(), []);
    assert_eq!(d.open_socket(), None);
    assert_eq!(d.s.registry().stats().accepted, 0);
}

#[test]
fn the_gateway_status_frame_sets_the_upstream() {
    let mut d = Driver::default();
    d.start(&[URL], Settings::default());
    d.opened();
    d.frame(r#"{"op":"status","upstream":"up","since":12.0,"error":null}"#);
    let s = d.s.status(d.now());
    assert_eq!(
        (s.upstream, s.bus_connected, s.upstream_for_s),
        ("up", true, Some(12.0))
    );
    let changes = d.count(Change::Connection);
    d.frame(r#"{"op":"status","upstream":"up","since":13.0,"error":null}"#);
    assert_eq!(
        d.count(Change::Connection),
        changes,
        "a repeated state is not a change"
    );
    d.frame(r#"{"op":"status","upstream":"down","since":0,"error":"bus: connection refused"}"#);
    d.advance(3_000.0);
    let s = d.s.status(d.now());
    assert_eq!(s.state, "open");
    assert_eq!((s.upstream, s.bus_connected), ("down", false));
    assert_eq!(s.upstream_for_s, Some(3.0));
    // Losing the gateway forgets what it said.
    d.closed(1006);
    let s = d.s.status(d.now());
    assert_eq!((s.upstream, s.upstream_for_s), ("unknown", None));
    assert_eq!(
        d.s.registry().stats().accepted,
        0,
        "control frames are not events"
    );
}

#[test]
fn a_gateway_error_frame_is_shown_and_the_socket_stays() {
    let mut d = Driver::default();
    d.start(&[URL], Settings::default());
    d.opened();
    d.frame(r#"{"op":"error","message":"pattern attacker.> is not readable"}"#);
    let s = d.s.status(d.now());
    assert_eq!(s.state, "open");
    assert_eq!(
        s.last_error,
        Some("gateway error: pattern attacker.> is not readable")
    );
}

#[test]
fn nats_pings_are_answered_and_errors_recorded() {
    let mut d = Driver::default();
    d.start(
        &[URL],
        Settings {
            user: Some("dash".into()),
            pass: Some("pw".into()),
            ..nats()
        },
    );
    d.opened();
    d.nats(b"INFO {}\r\n");
    assert!(d.sent[0].contains(r#""user":"dash","pass":"pw""#));
    d.nats(b"PING\r\n");
    assert_eq!(d.sent.last().unwrap(), "PONG\r\n");
    d.nats(b"-ERR 'Authorization Violation'\r\n");
    d.closed(1006);
    assert_eq!(
        d.s.status(d.now()).last_error,
        Some("unauthorized (nats: Authorization Violation)")
    );
}

#[test]
fn a_nats_protocol_error_drops_the_connection() {
    let mut d = Driver::default();
    d.start(&[URL], nats());
    d.opened();
    d.nats(b"INFO {\"max_payload\":100}\r\nPONG\r\n");
    d.nats(b"MSG system.api.health 1 5000\r\n");
    assert_eq!(d.state(), "backoff");
    assert_eq!(d.s.registry().stats().rejected(Reason::TooLarge), 1);
    assert_eq!(d.open_socket(), None);
}

#[test]
fn backoff_grows_and_stop_cancels_the_retry() {
    let mut d = Driver::default();
    d.start(&[URL], Settings::default());
    d.closed(1006);
    assert_eq!(d.state(), "backoff");
    assert_eq!(d.armed(), [Timer::Retry]);
    let retry = d.s.status(d.now()).next_retry_ms.unwrap();
    assert!((0.0..=500.0).contains(&retry));
    d.stop();
    assert_eq!(d.state(), "closed");
    assert_eq!(d.armed(), []);
    assert_eq!(
        d.count(Change::Connection),
        3,
        "connecting, backoff, closed"
    );
}

#[test]
fn hand_fed_beats_arm_one_status_timer() {
    let mut d = Driver::new(Config {
        ok_window_seconds: 1.0,
        ..Config::default()
    });
    let now = d.now();
    d.s.ingest(Loaded::Bytes(beat("api").as_bytes()), &now);
    d.drain();
    assert_eq!(d.armed(), [Timer::Status]);
    d.advance(500.0);
    let now = d.now();
    d.s.ingest(Loaded::Bytes(beat("bus").as_bytes()), &now);
    d.drain();
    d.advance(600.0);
    assert_eq!(d.count(Change::Status), 1, "api turned stale");
    d.advance(1_000.0);
    assert_eq!(d.count(Change::Status), 2, "then bus");
    assert_eq!(d.armed(), [], "nothing left to wait for");
    assert_eq!(d.count(Change::Beat), 2);
}

#[test]
fn the_jitter_is_uniform_enough() {
    let mut j = Jitter::new(42);
    let draws: Vec<f64> = (0..10_000).map(|_| j.next()).collect();
    assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
}

/// Beats microseconds apart (a replay, a flood, the benchmark) gave a row a
/// cadence of microseconds and a late moment just as close: every pause let
/// the status timer fire, report the row late, and be armed again by the
/// next beat. Lateness now needs at least 0.1 s of silence.
#[test]
fn a_burst_of_beats_does_not_keep_the_status_timer_busy() {
    let mut d = Driver::default();
    for i in 0..1000 {
        let now = d.now();
        // Each its own beat (a repeated payload.ts is a replay of the held one).
        let frame = beat("api").replace("1764190000.5}", &format!("{}}}", 1764190000.0 + i as f64));
        d.s.ingest(Loaded::Bytes(frame.as_bytes()), &now);
        d.drain();
        d.advance(if i % 50 == 49 { 2.0 } else { 0.01 });
    }
    assert_eq!(d.count(Change::Late), 0, "no silence worth the name");
    assert!(d.status_arms <= 3, "armed {} times", d.status_arms);
    // A real silence still makes the row late, before it turns stale.
    d.advance(150.0);
    assert_eq!(d.count(Change::Late), 1);
    assert_eq!(d.count(Change::Status), 0);
}
