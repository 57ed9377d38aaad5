//! The connection session as a sans-IO state machine: events in (start, stop,
//! socket opened, frame, closed, timer fired, token answered), actions out
//! (open a socket, send, close, arm or cancel a named timer, emit a change).
//! Pure: it owns the registry and ingests frames itself, but no socket, no
//! clock and no randomness of its own. The browser shell (`connection.rs`)
//! feeds it events with the time and executes what [`Session::poll`] returns.
//!
//! Three rules make the lifecycle bugs of a callback-driven shell impossible
//! by construction:
//!
//! * **Every timer kind has its own slot** ([`Timer`]). A keepalive ping can
//!   never replace the deadline of an earlier ping, of the greeting or of the
//!   connect: each is a separate deadline, armed once and cleared only by
//!   what it waits for.
//! * **Generations.** Each attempt (and each teardown) takes a new
//!   generation number. Socket events and token answers carry the generation
//!   they belong to, and [`Session::poll`] drops queued socket actions of an
//!   older generation and timer arms that were superseded. So a listener that
//!   calls `stop()` or `start(otherUrl)` while actions are still queued leaves
//!   no socket open and no timer armed.
//! * **Actions are queued, never run inside a handler.** A handler finishes
//!   its state change before any listener can observe it or call back in.

use std::collections::VecDeque;

use crate::backoff::Backoff;
use crate::clock::{Clock, Instant};
use crate::frame::{self, Control, Reason};
use crate::json;
use crate::link::{self, Link, Protocol, State};
use crate::nats::{self, Credentials, Op, ParseError, Parser};
use crate::registry::{Outcome, Registry};

/// How long a `tokenProvider` may take before the attempt counts as failed:
/// a ticket endpoint that has not answered in 30 s is down.
pub const TOKEN_TIMEOUT_MS: f64 = 30_000.0;

/// A wall clock that moves this much more (or less) than the monotonic one
/// between two looks has jumped (a laptop woke up, the clock was set).
const CLOCK_JUMP_MS: f64 = 1_000.0;

/// The shell's copy buffer, in bytes: three bytes per UTF-16 unit of the
/// largest frame (the worst case of UTF-16 to UTF-8), and at least 16 KiB.
/// A NATS WebSocket message of any size is fed through it in chunks, so
/// `maxFrameBytes` bounds a heartbeat, never the transport's framing.
pub fn copy_buffer_bytes(max_frame_bytes: usize) -> usize {
    max_frame_bytes.saturating_mul(3).max(16 * 1024)
}

/// The longest JS string (in UTF-16 units) whose verdict may be decided
/// without measuring its UTF-8 bytes: even at three bytes a unit, it cannot
/// exceed `maxFrameBytes`. Longer strings are encoded and measured first, so
/// a string and its bytes always get the same verdict.
pub fn probe_units(max_frame_bytes: usize) -> usize {
    max_frame_bytes / 3
}

/// The session's named timers. Each has its own slot: arming one never
/// touches another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The next connection attempt, after a backoff delay.
    Retry = 0,
    /// The token provider's answer, then the WebSocket handshake.
    Connect = 1,
    /// The server's first frame after the client's greeting.
    Greeting = 2,
    /// The next keepalive ping.
    Ping = 3,
    /// The answer to the earliest unanswered keepalive ping.
    Pong = 4,
    /// The earliest moment a row turns late, or from ok to stale.
    Status = 5,
}

impl Timer {
    pub const ALL: [Timer; 6] = [
        Timer::Retry,
        Timer::Connect,
        Timer::Greeting,
        Timer::Ping,
        Timer::Pong,
        Timer::Status,
    ];
}

/// What `onChange` listeners are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A beat was recorded.
    Beat = 0,
    /// A row turned from ok to stale with no frame arriving.
    Status = 1,
    /// The connection's state (or the gateway's upstream) changed.
    Connection = 2,
    /// A row turned late: ok, but silent for longer than its cadence allows.
    Late = 3,
}

impl Change {
    /// The names JS listeners receive, indexed by the enum's value.
    pub const NAMES: [&'static str; 4] = ["beat", "status", "connection", "late"];

    pub fn as_str(self) -> &'static str {
        Change::NAMES[self as usize]
    }
}

/// What the gateway last said about its own link to the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// Not said yet, not a gateway (NATS), or not connected.
    Unknown,
    Up,
    Down,
}

impl Upstream {
    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::Unknown => "unknown",
            Upstream::Up => "up",
            Upstream::Down => "down",
        }
    }
}

/// `start()`'s options, checked. Equal settings make `start()` a no-op;
/// any difference (a rotated token, another keepalive) reconnects.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub protocol: Protocol,
    pub backoff: Backoff,
    pub ping_interval_ms: f64,
    pub pong_timeout_ms: f64,
    pub token: Option<String>,
    /// The shell's number for the `tokenProvider` function: the same
    /// function keeps its number, another one gets a new number.
    pub token_provider: Option<u32>,
    pub user: Option<String>,
    pub pass: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            protocol: Protocol::Gateway,
            backoff: Backoff::default(),
            // A ping every 20 s, dead after 10 s of silence: a half-open
            // connection is noticed within about 30 s.
            ping_interval_ms: 20_000.0,
            pong_timeout_ms: 10_000.0,
            token: None,
            token_provider: None,
            user: None,
            pass: None,
        }
    }
}

/// What the shell must do. Socket actions name the generation they belong
/// to; the shell keeps one socket, tagged with the generation it was opened
/// for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a WebSocket to `url`; its events carry `generation`.
    Open {
        generation: u32,
        url: String,
    },
    /// Ask the token provider; the answer carries `generation`.
    FetchToken {
        generation: u32,
    },
    /// Send a text frame on the socket of `generation`.
    Send {
        generation: u32,
        text: String,
    },
    /// Close the socket of `generation`, if the shell still holds it.
    Close {
        generation: u32,
        code: u16,
        reason: &'static str,
    },
    /// (Re)arm `timer` to fire in `ms`; the firing reports `serial`.
    Arm {
        timer: Timer,
        ms: f64,
        serial: u32,
    },
    Cancel {
        timer: Timer,
    },
    /// Tell the `onChange` listeners.
    Emit(Change),
}

/// A frame as the shell could deliver it: its bytes, or what became of it
/// before it reached wasm memory (a string too long to copy, a string on
/// another topic, a value that is neither text nor bytes).
#[derive(Debug, Clone, Copy)]
pub enum Loaded<'a> {
    Bytes(&'a [u8]),
    Refused(Outcome),
}

/// `connection()`: what a banner shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionStatus<'a> {
    pub state: &'static str,
    /// Open, and the gateway has not said its bus is down.
    pub bus_connected: bool,
    pub upstream: &'static str,
    /// Seconds the upstream has been in its current state, by the gateway's
    /// account plus the time since; null while unknown.
    pub upstream_for_s: Option<f64>,
    pub url: Option<&'a str>,
    pub attempts: u32,
    pub last_error: Option<&'a str>,
    pub next_retry_ms: Option<f64>,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Connecting => "connecting",
            State::Open => "open",
            State::Backoff => "backoff",
            State::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    /// The monotonic instant (ms) the timer is due at.
    due: f64,
    serial: u32,
}

/// Where the current attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No attempt is under way (idle, backoff, closed).
    None,
    /// Waiting for the token provider.
    Token,
    /// A socket exists for the current generation.
    Socket,
}

/// A small, fast generator for backoff jitter (xorshift64*): the shell seeds
/// it once with `Math.random()`, tests with a constant.
#[derive(Debug, Clone)]
struct Jitter(u64);

impl Jitter {
    fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The registry and its connection.
pub struct Session {
    registry: Registry,
    link: Link,
    urls: Vec<String>,
    url_index: usize,
    settings: Settings,
    generation: u32,
    phase: Phase,
    /// The token of the current attempt.
    token: Option<String>,
    /// NATS only: the stream parser, and whether CONNECT was sent.
    parser: Option<Parser>,
    handshake_sent: bool,
    /// NATS: the server refused `system.*.health` (a permission), so the
    /// second subscription's messages are not duplicates.
    wildcard_refused: bool,
    upstream: Upstream,
    /// Monotonic ms at which the upstream entered its current state.
    upstream_since: f64,
    timers: [Option<Armed>; 6],
    serial: u32,
    jitter: Jitter,
    /// `wall - mono` at the last look, to notice the wall clock jumping.
    clock_offset: Option<f64>,
    /// Rows recorded while parsing one NATS chunk (kept for its capacity).
    chunk_beats: Vec<usize>,
    out: VecDeque<Action>,
}

impl Session {
    /// A session around `registry`; `seed` seeds the backoff jitter.
    pub fn new(registry: Registry, seed: u64) -> Session {
        Session {
            registry,
            link: Link::default(),
            urls: Vec::new(),
            url_index: 0,
            settings: Settings::default(),
            generation: 0,
            phase: Phase::None,
            token: None,
            parser: None,
            handshake_sent: false,
            wildcard_refused: false,
            upstream: Upstream::Unknown,
            upstream_since: 0.0,
            timers: [None; 6],
            serial: 0,
            jitter: Jitter::new(seed),
            clock_offset: None,
            chunk_beats: Vec::new(),
            out: VecDeque::new(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn state(&self) -> State {
        self.link.state()
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether [`poll`](Self::poll) may have an action to give.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next action for the shell, skipping those that a later event made
    /// stale: socket actions of an older generation, and timer arms that were
    /// re-armed or cancelled since.
    pub fn poll(&mut self) -> Option<Action> {
        while let Some(action) = self.out.pop_front() {
            let current = match &action {
                Action::Open { generation, .. }
                | Action::FetchToken { generation }
                | Action::Send { generation, .. } => *generation == self.generation,
                Action::Arm { timer, serial, .. } => {
                    matches!(self.timers[*timer as usize], Some(a) if a.serial == *serial)
                }
                _ => true,
            };
            if current {
                return Some(action);
            }
        }
        None
    }

    // ---- events: the API ----

    /// `start(urls, options)`. With the same URLs and settings while running,
    /// nothing happens; otherwise the current connection (if any) is dropped
    /// and a new one begins with the new settings.
    pub fn start(&mut self, urls: Vec<String>, settings: Settings, now: Instant) {
        let running = matches!(
            self.link.state(),
            State::Connecting | State::Open | State::Backoff
        );
        if running && self.urls == urls && self.settings == settings {
            return;
        }
        self.teardown();
        self.cancel(Timer::Retry);
        self.link.reset();
        self.urls = urls;
        self.url_index = 0;
        self.settings = settings;
        if self.urls.is_empty() {
            return;
        }
        // A stop() cancelled the status timer; rows kept ageing meanwhile.
        self.refresh_status(now);
        self.connect(now);
    }

    /// `stop()`: closes the socket and cancels every timer. Idempotent.
    pub fn stop(&mut self) {
        self.teardown();
        self.cancel(Timer::Retry);
        self.cancel(Timer::Status);
        if !matches!(self.link.state(), State::Idle | State::Closed) {
            self.link.stopped();
            self.emit(Change::Connection);
        }
    }

    /// The token provider answered for attempt `generation`.
    pub fn on_token(&mut self, generation: u32, answer: Result<String, String>, now: Instant) {
        if generation != self.generation || self.phase != Phase::Token {
            return;
        }
        match answer {
            Ok(token) => self.open(Some(token), now),
            Err(e) => {
                let mut m = String::from("tokenProvider failed: ");
                m.push_str(&e);
                self.fail(m, now);
            }
        }
    }

    /// The shell could not even create the socket (a URL the browser refused).
    pub fn on_open_failed(&mut self, generation: u32, error: &str, now: Instant) {
        if generation != self.generation || self.phase != Phase::Socket {
            return;
        }
        let mut m = String::from("could not open the WebSocket: ");
        m.push_str(error);
        self.fail(m, now);
    }

    /// The socket of `generation` opened: greet the server, start the
    /// keepalive. The connection counts as open once the server answers.
    pub fn on_open(&mut self, generation: u32, now: Instant) {
        if generation != self.generation || self.phase != Phase::Socket {
            return;
        }
        self.cancel(Timer::Connect);
        match self.settings.protocol {
            Protocol::Gateway => {
                for text in link::gateway_hello(self.token.as_deref()) {
                    self.send(text);
                }
                self.send(link::GATEWAY_PING.into());
            }
            Protocol::Nats => {
                self.parser = Some(Parser::new(self.registry.max_frame_bytes()));
                self.handshake_sent = false;
                self.wildcard_refused = false;
            }
        }
        let timeout = self.settings.pong_timeout_ms;
        self.arm(Timer::Greeting, timeout, now);
        self.arm(Timer::Ping, self.settings.ping_interval_ms, now);
    }

    /// The socket of `generation` closed (or failed: browsers follow every
    /// `error` with a `close`).
    pub fn on_close(&mut self, generation: u32, code: u16, reason: &str, now: Instant) {
        if generation != self.generation || self.phase != Phase::Socket {
            return;
        }
        let was_open = self.link.state() == State::Open;
        self.fail(link::close_error(code, reason, was_open), now);
    }

    /// A timer fired. A firing whose `serial` is not the armed one is stale
    /// and ignored.
    pub fn on_timer(&mut self, timer: Timer, serial: u32, now: Instant) {
        match self.timers[timer as usize] {
            Some(a) if a.serial == serial => self.timers[timer as usize] = None,
            _ => return,
        }
        if timer != Timer::Status {
            self.observe_clock(now);
        }
        let timeout = self.settings.pong_timeout_ms;
        match timer {
            Timer::Retry => {
                if !self.urls.is_empty() {
                    // A list of replicas or cluster members: the next one.
                    self.url_index = (self.url_index + 1) % self.urls.len();
                }
                self.connect(now);
            }
            Timer::Connect if self.phase == Phase::Token => self.fail(
                within("no token from tokenProvider within ", TOKEN_TIMEOUT_MS),
                now,
            ),
            Timer::Connect => self.fail(within("could not connect within ", timeout), now),
            Timer::Greeting => self.fail(within("no answer from the server within ", timeout), now),
            Timer::Pong => self.fail(
                within("no answer to a keepalive ping within ", timeout),
                now,
            ),
            Timer::Ping => {
                self.send(match self.settings.protocol {
                    Protocol::Gateway => link::GATEWAY_PING.into(),
                    Protocol::Nats => "PING\r\n".into(),
                });
                // The earliest unanswered ping keeps its deadline: a later
                // ping never postpones it.
                if self.timers[Timer::Pong as usize].is_none() {
                    self.arm(Timer::Pong, timeout, now);
                }
                self.arm(Timer::Ping, self.settings.ping_interval_ms, now);
            }
            Timer::Status => self.refresh_status(now),
        }
    }

    // ---- events: frames ----

    /// A frame fed by hand (`ingest`).
    pub fn ingest(&mut self, frame: Loaded<'_>, clock: &impl Clock) -> Outcome {
        let outcome = match frame {
            Loaded::Bytes(bytes) => self.registry.ingest(bytes, clock),
            Loaded::Refused(o) => self.registry.count(o),
        };
        self.recorded(outcome);
        outcome
    }

    /// A beat given by hand (`record`).
    pub fn record(
        &mut self,
        worker: &str,
        ts: Option<f64>,
        payload: Loaded<'_>,
        clock: &impl Clock,
    ) -> Outcome {
        let outcome = match payload {
            Loaded::Bytes(bytes) => self.registry.record(worker, ts, bytes, clock),
            Loaded::Refused(o) => self.registry.count(o),
        };
        self.recorded(outcome);
        outcome
    }

    /// A gateway protocol frame on the socket of `generation`.
    pub fn on_gateway_frame(
        &mut self,
        generation: u32,
        frame: Loaded<'_>,
        clock: &impl Clock,
    ) -> Outcome {
        if generation != self.generation || self.phase != Phase::Socket {
            return Outcome::Control;
        }
        self.answered();
        if self.link.state() != State::Open {
            // Any frame answers the greeting.
            self.link.opened(clock.now().mono_ms);
            self.emit(Change::Connection);
        }
        let outcome = self.ingest(frame, clock);
        if let (Outcome::Control, Loaded::Bytes(bytes)) = (outcome, frame) {
            self.control(bytes, clock);
        }
        outcome
    }

    /// A gateway control frame: a refused client frame is worth showing (the
    /// socket stays), and `status` tells whether the gateway's bus is up.
    fn control(&mut self, bytes: &[u8], clock: &impl Clock) {
        match frame::control(bytes) {
            Control::Error(message) => {
                let mut m = String::from("gateway error: ");
                m.push_str(&message);
                self.link.error(m, false);
                self.emit(Change::Connection);
            }
            Control::Status { up, since_s } => {
                let now = clock.now().mono_ms;
                let upstream = if up { Upstream::Up } else { Upstream::Down };
                self.upstream_since = now - since_s * 1000.0;
                // A gateway may repeat itself; listeners hear of changes only.
                if upstream != self.upstream {
                    self.upstream = upstream;
                    self.emit(Change::Connection);
                }
            }
            Control::Other => {}
        }
    }

    /// Part of the NATS byte stream on the socket of `generation`. A
    /// WebSocket message may be fed in several chunks: the parser does not
    /// care where the stream is cut.
    pub fn on_nats_chunk(&mut self, generation: u32, chunk: &[u8], clock: &impl Clock) {
        if generation != self.generation || self.phase != Phase::Socket {
            return;
        }
        let Some(mut parser) = self.parser.take() else {
            return;
        };
        self.answered();
        let mut replies = String::new();
        let (mut pong, mut saw_info, mut max_payload) = (false, false, None);
        let mut errors: Vec<(String, bool)> = Vec::new();
        let registry = &mut self.registry;
        let chunk_beats = &mut self.chunk_beats;
        let wildcard_refused = self.wildcard_refused;
        let result = parser.feed(chunk, |op| match op {
            Op::Msg {
                subject,
                sid,
                payload,
            } => {
                // system.bus.health matches both subscriptions, and the
                // server delivers it once per subscription: the second is a
                // duplicate unless the wildcard was refused.
                if sid == b"2" && !wildcard_refused {
                    return;
                }
                if let Outcome::Recorded(i) = registry.ingest_nats(subject, payload, clock) {
                    chunk_beats.push(i);
                }
            }
            Op::Ping => replies.push_str("PONG\r\n"),
            Op::Pong => pong = true,
            Op::Info(info) => {
                saw_info = true;
                max_payload = nats::info_max_payload(info);
            }
            Op::Err(m) => errors.push(nats_error(m)),
            Op::Ok => {}
        });
        if let Some(max) = max_payload {
            parser.limit_payload(max);
        }
        self.parser = Some(parser);
        // The first INFO is answered with CONNECT, SUBs and PING; later INFOs
        // (cluster updates) need nothing.
        if saw_info && !self.handshake_sent {
            self.handshake_sent = true;
            let creds = Credentials {
                token: self.token.clone(),
                user: self.settings.user.clone(),
                pass: self.settings.pass.clone(),
            };
            let mut hello = nats::handshake(&creds);
            hello.push_str(&replies);
            replies = hello;
        }
        if !replies.is_empty() {
            self.send(replies);
        }
        for (e, fatal) in errors.iter() {
            if json::contains_ignore_case(e.as_bytes(), b"subscription to \"system.*.health\"") {
                self.wildcard_refused = true;
            }
            self.link.error(e.clone(), *fatal);
        }
        if !errors.is_empty() {
            self.emit(Change::Connection);
        }
        if pong && self.handshake_sent && self.link.state() != State::Open {
            self.link.opened(clock.now().mono_ms);
            self.emit(Change::Connection);
        }
        let mut beats = std::mem::take(&mut self.chunk_beats);
        for &i in &beats {
            self.recorded(Outcome::Recorded(i));
        }
        beats.clear();
        self.chunk_beats = beats;
        if let Err(e) = result {
            if let ParseError::PayloadTooLarge { .. } = e {
                self.registry.count(Outcome::Rejected(Reason::TooLarge));
            }
            self.fail(e.message(), clock.now());
        }
    }

    // ---- reading ----

    /// `connection()` as of `now`.
    pub fn status(&self, now: Instant) -> ConnectionStatus<'_> {
        let state = self.link.state();
        let upstream = if state == State::Open {
            self.upstream
        } else {
            Upstream::Unknown
        };
        ConnectionStatus {
            state: state.as_str(),
            bus_connected: state == State::Open && upstream != Upstream::Down,
            upstream: upstream.as_str(),
            upstream_for_s: (upstream != Upstream::Unknown).then(|| {
                ((now.mono_ms - self.upstream_since) / 1000.0)
                    .max(0.0)
                    .round()
            }),
            url: self.urls.get(self.url_index).map(String::as_str),
            attempts: self.link.attempts(now.mono_ms),
            last_error: self.link.last_error(),
            next_retry_ms: self.link.next_retry_ms(now.mono_ms),
        }
    }

    // ---- inside ----

    fn emit(&mut self, change: Change) {
        self.out.push_back(Action::Emit(change));
    }

    fn send(&mut self, text: String) {
        self.out.push_back(Action::Send {
            generation: self.generation,
            text,
        });
    }

    fn arm(&mut self, timer: Timer, ms: f64, now: Instant) {
        self.serial = self.serial.wrapping_add(1);
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        self.timers[timer as usize] = Some(Armed {
            due: now.mono_ms + ms,
            serial: self.serial,
        });
        self.out.push_back(Action::Arm {
            timer,
            ms,
            serial: self.serial,
        });
    }

    fn cancel(&mut self, timer: Timer) {
        if self.timers[timer as usize].take().is_some() {
            self.out.push_back(Action::Cancel { timer });
        }
    }

    /// The server said something: whatever the greeting or a ping waited
    /// for has arrived.
    fn answered(&mut self) {
        self.cancel(Timer::Greeting);
        self.cancel(Timer::Pong);
    }

    /// Begins an attempt: asks the token provider if there is one, else
    /// opens the socket.
    fn connect(&mut self, now: Instant) {
        self.generation = self.generation.wrapping_add(1);
        self.link.connecting();
        self.emit(Change::Connection);
        if self.settings.token_provider.is_some() {
            // Asked before every attempt: tickets are often short-lived.
            self.phase = Phase::Token;
            self.out.push_back(Action::FetchToken {
                generation: self.generation,
            });
            self.arm(Timer::Connect, TOKEN_TIMEOUT_MS, now);
        } else {
            let token = self.settings.token.clone();
            self.open(token, now);
        }
    }

    fn open(&mut self, token: Option<String>, now: Instant) {
        self.phase = Phase::Socket;
        self.token = token;
        let url = self.urls[self.url_index % self.urls.len()].clone();
        self.out.push_back(Action::Open {
            generation: self.generation,
            url,
        });
        // A server that accepts TCP but never completes the handshake (a
        // hung process) must not leave the registry connecting forever.
        self.arm(Timer::Connect, self.settings.pong_timeout_ms, now);
    }

    /// Drops the current attempt: its socket, its timers, its parser. The
    /// generation moves on, so nothing of the old attempt can act later.
    fn teardown(&mut self) {
        if self.phase == Phase::Socket {
            self.out.push_back(Action::Close {
                generation: self.generation,
                code: 1000,
                reason: "closed by the registry",
            });
        }
        self.phase = Phase::None;
        self.token = None;
        self.parser = None;
        self.handshake_sent = false;
        self.upstream = Upstream::Unknown;
        for t in [Timer::Connect, Timer::Greeting, Timer::Ping, Timer::Pong] {
            self.cancel(t);
        }
        self.generation = self.generation.wrapping_add(1);
    }

    /// The attempt ended: drop it and schedule the next.
    fn fail(&mut self, error: String, now: Instant) {
        self.teardown();
        let jitter = self.jitter.next();
        let backoff = self.settings.backoff;
        let delay = self.link.failed(error, now.mono_ms, jitter, &backoff);
        self.arm(Timer::Retry, delay, now);
        self.emit(Change::Connection);
    }

    /// After a frame: a recorded beat tells listeners, and the status timer
    /// must cover the row's ok-to-stale moment.
    fn recorded(&mut self, outcome: Outcome) {
        let Outcome::Recorded(index) = outcome else {
            return;
        };
        if let (Some(arrival), Some(due)) = (
            self.registry.arrival(index),
            self.registry.due_at_mono(index),
        ) {
            self.observe_clock(arrival);
            // The armed timer stays right unless this row is now due sooner
            // (a retained beat arriving already aged, or a cadence that shrank
            // and brought its late moment forward).
            // One millisecond late rather than early: at the deadline itself
            // the row is stale (the window is exclusive). The armed deadline
            // holds that millisecond too, so a burst of beats within it does
            // not re-arm the timer at every beat.
            let target = due + 1.0;
            let armed = self.timers[Timer::Status as usize].map(|a| a.due);
            if armed.is_none_or(|at| target < at) {
                self.arm(Timer::Status, target - arrival.mono_ms, arrival);
            }
        }
        self.emit(Change::Beat);
    }

    /// Rows that turned stale or late are announced, and the status timer
    /// is armed for the next turn (or cancelled when no row is ok).
    fn refresh_status(&mut self, now: Instant) {
        let turned = self.registry.expire(now);
        if turned.stale {
            self.emit(Change::Status);
        }
        if turned.late {
            self.emit(Change::Late);
        }
        match self.registry.next_expiry_ms(now) {
            Some(ms) => self.arm(Timer::Status, ms + 1.0, now),
            None => self.cancel(Timer::Status),
        }
    }

    /// Notices a wall clock that jumped since the last look. Timers run on
    /// the monotonic clock, but liveness takes the larger of both clocks'
    /// elapsed times: after a laptop wakes up, rows may be stale already.
    fn observe_clock(&mut self, now: Instant) {
        let offset = now.wall_ms - now.mono_ms;
        match self.clock_offset {
            Some(o) if (offset - o).abs() <= CLOCK_JUMP_MS => {}
            Some(_) => {
                self.clock_offset = Some(offset);
                self.refresh_status(now);
            }
            None => self.clock_offset = Some(offset),
        }
    }
}

fn within(what: &str, ms: f64) -> String {
    let mut m = String::from(what);
    json::push_u64(&mut m, ms.round() as u64);
    m.push_str(" ms");
    m
}

/// A NATS `-ERR` as `last_error`. An authorization failure reads
/// "unauthorized (...)" like the gateway's 4401, and is kept over the close
/// that follows it.
fn nats_error(message: &[u8]) -> (String, bool) {
    let auth = json::contains_ignore_case(message, b"authorization")
        || json::contains_ignore_case(message, b"authentication");
    let mut e = String::from(if auth {
        "unauthorized (nats: "
    } else {
        "nats: "
    });
    e.push_str(&json::text(message));
    if auth {
        e.push(')');
    }
    (e, auth)
}

#[cfg(test)]
mod tests;
