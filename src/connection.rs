//! The live connection: `start`, `stop`, reconnecting with backoff, the
//! keepalive, and the two transports' handshakes. It drives the pure
//! [`Link`] with the browser's [`Socket`] and [`Timer`]s.
//!
//! Every attempt gets a generation number; a socket event, timer or token
//! that belongs to an older generation is ignored, so nothing from a
//! connection that was replaced or stopped can act later.

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{self, after, HostClock, Inner, CHANGE_CONNECTION};
use crate::backoff::Backoff;
use crate::frame::{self, Reason};
use crate::link::{self, ConnectOptions, Link, Protocol, State};
use crate::nats::{self, Credentials, Op, Parser};
use crate::registry::Outcome;
use crate::socket::{Callback, Socket, SocketEvent, Timer};

/// `start()`'s options, checked.
#[derive(Default)]
pub(crate) struct Settings {
    options: ConnectOptions,
    token: Option<String>,
    token_provider: Option<Function>,
    creds: Credentials,
}

/// A registry's connection.
pub(crate) struct Connection {
    link: Link,
    url: Option<String>,
    settings: Settings,
    generation: u32,
    socket: Option<Socket>,
    /// The token of the current attempt, sent once the socket opens.
    token: Option<String>,
    retry: Option<Timer>,
    ping: Option<Timer>,
    pong: Option<Timer>,
    /// Frames received on the current socket: the keepalive's evidence.
    received: u64,
    /// NATS only: the stream parser, and whether CONNECT was sent.
    parser: Option<Parser>,
    handshake_sent: bool,
    /// Receives the token provider's answer; made on first use.
    token_callback: Option<Callback>,
}

impl Connection {
    pub(crate) fn new() -> Connection {
        Connection {
            link: Link::default(),
            url: None,
            settings: Settings::default(),
            generation: 0,
            socket: None,
            token: None,
            retry: None,
            ping: None,
            pong: None,
            received: 0,
            parser: None,
            handshake_sent: false,
            token_callback: None,
        }
    }

    /// Drops the socket and its timers (dropping closes and cancels them).
    fn teardown(&mut self) -> Option<Socket> {
        self.ping = None;
        self.pong = None;
        self.parser = None;
        self.handshake_sent = false;
        self.received = 0;
        self.socket.take()
    }

    fn token_function(&mut self, inner: &Rc<Inner>) -> Function {
        let owner = Rc::downgrade(inner);
        self.token_callback
            .get_or_insert_with(|| {
                // The host answers with [generation, token, error].
                Callback::new(move |answer: JsValue| {
                    let answer: js_sys::Array = answer.unchecked_into();
                    let generation = answer.get(0).as_f64().unwrap_or(-1.0) as u32;
                    if let Some(inner) = owner.upgrade() {
                        on_token(&inner, generation, answer.get(1), answer.get(2));
                    }
                })
            })
            .function()
            .clone()
    }
}

/// `start()`'s options, checked by the host.
pub(crate) fn parse_connect_options(options: Option<&JsValue>) -> Result<Settings, JsValue> {
    let d = ConnectOptions::default();
    let defaults = [
        d.backoff.initial_ms,
        d.backoff.max_ms,
        d.ping_interval_ms,
        d.pong_timeout_ms,
    ];
    let o = api::connect_options(options.unwrap_or(&JsValue::UNDEFINED), &defaults)?;
    let number = |i: u32| o.get(i).as_f64().unwrap_or(0.0);
    Ok(Settings {
        options: ConnectOptions {
            protocol: if number(0) == 1.0 {
                Protocol::Nats
            } else {
                Protocol::Gateway
            },
            backoff: Backoff {
                initial_ms: number(5),
                max_ms: number(6),
            },
            ping_interval_ms: number(7),
            pong_timeout_ms: number(8),
        },
        token: o.get(1).as_string(),
        token_provider: o.get(2).dyn_into::<Function>().ok(),
        creds: Credentials {
            token: None,
            user: o.get(3).as_string(),
            pass: o.get(4).as_string(),
        },
    })
}

/// `start(url, options)`.
pub(crate) fn start(inner: &Rc<Inner>, url: String, settings: Settings) {
    let old = {
        let mut c = inner.conn.borrow_mut();
        let running = matches!(
            c.link.state(),
            State::Connecting | State::Open | State::Backoff
        );
        if running && c.url.as_deref() == Some(url.as_str()) {
            return;
        }
        let old = c.teardown();
        c.retry = None;
        c.link.reset();
        c.url = Some(url);
        c.settings = settings;
        old
    };
    drop(old);
    connect(inner);
}

/// Begins an attempt: asks the token provider if there is one, then opens
/// the socket.
fn connect(inner: &Rc<Inner>) {
    let (generation, provider, token, done) = {
        let mut c = inner.conn.borrow_mut();
        c.generation = c.generation.wrapping_add(1);
        c.retry = None;
        c.link.connecting();
        let provider = c.settings.token_provider.clone();
        let done = provider.as_ref().map(|_| c.token_function(inner));
        (c.generation, provider, c.settings.token.clone(), done)
    };
    inner.host.emit(CHANGE_CONNECTION);
    match (provider, done) {
        // Asked before every attempt: tickets are often short-lived. The
        // answer comes back through `on_token`.
        (Some(p), Some(done)) => inner.host.fetch_token(&p, generation, &done),
        _ => open_socket(inner, generation, token),
    }
}

fn on_token(inner: &Rc<Inner>, generation: u32, token: JsValue, error: JsValue) {
    {
        let c = inner.conn.borrow();
        if c.generation != generation || c.link.state() != State::Connecting {
            return;
        }
    }
    if !error.is_undefined() {
        let mut m = String::from("tokenProvider failed: ");
        m.push_str(&js_message(&error));
        return fail(inner, generation, m);
    }
    match token.as_string() {
        Some(t) => open_socket(inner, generation, Some(t)),
        None => fail(
            inner,
            generation,
            "tokenProvider must return a string".into(),
        ),
    }
}

fn js_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return err.message().into();
    }
    e.as_string().unwrap_or_else(|| "an error".into())
}

fn open_socket(inner: &Rc<Inner>, generation: u32, token: Option<String>) {
    let Some(url) = inner.conn.borrow().url.clone() else {
        return;
    };
    let weak = Rc::downgrade(inner);
    let sink: Rc<dyn Fn(SocketEvent)> = Rc::new(move |event| {
        if let Some(inner) = weak.upgrade() {
            on_socket(&inner, generation, event);
        }
    });
    match Socket::open(&url, sink) {
        Ok(socket) => {
            {
                let mut c = inner.conn.borrow_mut();
                c.socket = Some(socket);
                c.token = token;
                c.received = 0;
                if c.settings.options.protocol == Protocol::Nats {
                    let max = inner.core.borrow().max_frame_bytes();
                    c.parser = Some(Parser::new(max));
                }
            }
            // A server that accepts TCP but never completes the handshake
            // (a hung process) must not leave the registry connecting forever.
            arm_deadline(inner, generation, 0, Deadline::Connect);
        }
        Err(e) => {
            let mut m = String::from("could not open the WebSocket: ");
            m.push_str(&js_message(&e));
            fail(inner, generation, m);
        }
    }
}

fn on_socket(inner: &Rc<Inner>, generation: u32, event: SocketEvent) {
    let protocol = {
        let c = inner.conn.borrow();
        if c.generation != generation || c.socket.is_none() {
            return;
        }
        c.settings.options.protocol
    };
    match event {
        SocketEvent::Open => on_open(inner, generation, protocol),
        SocketEvent::Message(data) => {
            inner.conn.borrow_mut().received += 1;
            match protocol {
                Protocol::Gateway => on_gateway_frame(inner, &data),
                Protocol::Nats => on_nats_frame(inner, generation, &data),
            }
        }
        SocketEvent::Close { code, reason } => {
            let was_open = inner.conn.borrow().link.state() == State::Open;
            fail(
                inner,
                generation,
                link::close_error(code, &reason, was_open),
            );
        }
    }
}

/// The socket is open: greet the server and start the keepalive. The
/// connection counts as open once the server has answered (any gateway
/// frame; the PONG to NATS's handshake PING).
fn on_open(inner: &Rc<Inner>, generation: u32, protocol: Protocol) {
    if protocol == Protocol::Gateway {
        let c = inner.conn.borrow();
        if let Some(s) = &c.socket {
            for f in link::gateway_hello(c.token.as_deref()) {
                s.send(&f);
            }
            s.send(link::GATEWAY_PING);
        }
    }
    // The greeting must be answered within the pong timeout, like a ping.
    arm_deadline(inner, generation, 0, Deadline::Greeting);
    arm_ping(inner, generation);
}

fn mark_open(inner: &Rc<Inner>) {
    let now = inner.now().mono_ms;
    let changed = {
        let mut c = inner.conn.borrow_mut();
        let changed = c.link.state() != State::Open;
        if changed {
            c.link.opened(now);
        }
        changed
    };
    if changed {
        inner.host.emit(CHANGE_CONNECTION);
    }
}

fn on_gateway_frame(inner: &Rc<Inner>, data: &JsValue) {
    if inner.conn.borrow().link.state() != State::Open {
        mark_open(inner);
    }
    let outcome = inner.ingest_value(data);
    if outcome == Outcome::Control {
        // A refused client frame: worth showing, though the socket stays.
        let len = inner.load(data, inner.frame_capacity(), false).unwrap_or(0);
        if let Some(message) = inner.with_frame(len, frame::control_error) {
            let mut m = String::from("gateway error: ");
            m.push_str(&message);
            inner.conn.borrow_mut().link.error(m, false);
            inner.host.emit(CHANGE_CONNECTION);
        }
    }
    after(inner, outcome);
}

/// What a NATS frame asks of the connection, collected while parsing and
/// done afterwards (parsing borrows the frame buffer and the registry).
#[derive(Default)]
struct NatsActions {
    replies: String,
    opened: bool,
    errors: Vec<(String, bool)>,
    recorded: Vec<usize>,
    saw_info: bool,
    max_payload: Option<usize>,
}

fn on_nats_frame(inner: &Rc<Inner>, generation: u32, data: &JsValue) {
    // The parser is taken out while it runs, so a clock or listener that
    // calls back into the registry finds the connection unborrowed.
    let Some(mut parser) = inner.conn.borrow_mut().parser.take() else {
        return;
    };
    let mut acts = NatsActions::default();
    let result = match inner.load(data, inner.frame_capacity(), false) {
        Err(_) => Err(nats::ParseError::BadLine(
            "a WebSocket frame larger than the client's buffer",
        )),
        Ok(len) => {
            let clock = HostClock(&inner.host);
            inner.with_frame(len, |bytes| {
                parser.feed(bytes, |op| match op {
                    Op::Msg {
                        subject, payload, ..
                    } => {
                        let o = inner
                            .core
                            .borrow_mut()
                            .ingest_nats(subject, payload, &clock);
                        if let Outcome::Recorded(i) = o {
                            acts.recorded.push(i);
                        }
                    }
                    Op::Ping => acts.replies.push_str("PONG\r\n"),
                    Op::Pong => acts.opened = true,
                    Op::Info(info) => {
                        acts.saw_info = true;
                        acts.max_payload = nats::info_max_payload(info);
                    }
                    Op::Err(m) => acts.errors.push(nats_error(m)),
                    Op::Ok => {}
                })
            })
        }
    };
    if let Some(max) = acts.max_payload {
        parser.limit_payload(max);
    }
    {
        let mut c = inner.conn.borrow_mut();
        if c.generation != generation {
            return;
        }
        c.parser = Some(parser);
        // The first INFO is answered with CONNECT, SUBs and PING; later INFOs
        // (cluster updates) need nothing.
        let mut replies = acts.replies;
        if acts.saw_info && !c.handshake_sent {
            c.handshake_sent = true;
            let mut creds = c.settings.creds.clone();
            if c.token.is_some() {
                creds.token = c.token.clone();
            }
            replies.insert_str(0, &nats::handshake(&creds));
        }
        if let Some(s) = &c.socket {
            if !replies.is_empty() {
                s.send(&replies);
            }
        }
        for (e, fatal) in acts.errors.iter() {
            c.link.error(e.clone(), *fatal);
        }
    }
    if !acts.errors.is_empty() {
        inner.host.emit(CHANGE_CONNECTION);
    }
    if acts.opened {
        mark_open(inner);
    }
    for i in acts.recorded {
        after(inner, Outcome::Recorded(i));
    }
    if let Err(e) = result {
        if let nats::ParseError::PayloadTooLarge { .. } = e {
            inner
                .core
                .borrow_mut()
                .count(Outcome::Rejected(Reason::TooLarge));
        }
        fail(inner, generation, e.message());
    }
}

/// A NATS `-ERR` as `last_error`. An authorization failure reads
/// "unauthorized (...)" like the gateway's 4401, and is kept over the close
/// that follows it.
fn nats_error(message: &[u8]) -> (String, bool) {
    use crate::json::contains_ignore_case;
    let auth = contains_ignore_case(message, b"authorization")
        || contains_ignore_case(message, b"authentication");
    let mut e = String::from(if auth {
        "unauthorized (nats: "
    } else {
        "nats: "
    });
    e.push_str(&crate::json::text(message));
    if auth {
        e.push(')');
    }
    (e, auth)
}

/// Sends a ping every `pingIntervalMs`, each with its own deadline.
fn arm_ping(inner: &Rc<Inner>, generation: u32) {
    let weak = Rc::downgrade(inner);
    let mut c = inner.conn.borrow_mut();
    let interval = c.settings.options.ping_interval_ms;
    c.ping = Some(Timer::once(interval, move || {
        let Some(inner) = weak.upgrade() else { return };
        let received = {
            let c = inner.conn.borrow();
            if c.generation != generation {
                return;
            }
            if let Some(s) = &c.socket {
                s.send(match c.settings.options.protocol {
                    Protocol::Gateway => link::GATEWAY_PING,
                    Protocol::Nats => "PING\r\n",
                });
            }
            c.received
        };
        arm_deadline(&inner, generation, received, Deadline::Ping);
        arm_ping(&inner, generation);
    }));
}

/// What a deadline waits for.
#[derive(Clone, Copy)]
enum Deadline {
    /// The WebSocket handshake.
    Connect,
    /// The first frame after the greeting (subscriptions, NATS CONNECT).
    Greeting,
    /// Any frame after a keepalive ping.
    Ping,
}

/// If nothing at all arrives within `pongTimeoutMs`, the socket is dead
/// (a half-open TCP connection sends no close): drop it and reconnect.
fn arm_deadline(inner: &Rc<Inner>, generation: u32, received_at_ping: u64, what: Deadline) {
    let weak = Rc::downgrade(inner);
    let mut c = inner.conn.borrow_mut();
    let timeout = c.settings.options.pong_timeout_ms;
    c.pong = Some(Timer::once(timeout, move || {
        let Some(inner) = weak.upgrade() else { return };
        let dead = {
            let mut c = inner.conn.borrow_mut();
            let fired = c.pong.take();
            let dead = c.generation == generation && c.received == received_at_ping;
            drop(c);
            drop(fired);
            dead
        };
        if dead {
            let mut m = String::from(match what {
                Deadline::Connect => "could not connect within ",
                Deadline::Greeting => "no answer from the server within ",
                Deadline::Ping => "no answer to a keepalive ping within ",
            });
            crate::json::push_u64(&mut m, timeout.round() as u64);
            m.push_str(" ms");
            fail(&inner, generation, m);
        }
    }));
}

/// The attempt `generation` ended: drop its socket and schedule the next.
fn fail(inner: &Rc<Inner>, generation: u32, error: String) {
    let now = inner.now().mono_ms;
    let jitter = js_sys::Math::random();
    let old = {
        let mut c = inner.conn.borrow_mut();
        if c.generation != generation {
            return;
        }
        let old = c.teardown();
        let backoff = c.settings.options.backoff;
        let delay = c.link.failed(error, now, jitter, &backoff);
        let weak = Rc::downgrade(inner);
        c.retry = Some(Timer::once(delay, move || {
            if let Some(inner) = weak.upgrade() {
                let current = inner.conn.borrow().generation == generation;
                if current {
                    connect(&inner);
                }
            }
        }));
        old
    };
    drop(old);
    inner.host.emit(CHANGE_CONNECTION);
}

/// `stop()`: closes the socket, cancels every timer, and resolves once the
/// socket has closed (or after 2 s if the server never answers the close).
pub(crate) fn stop(inner: &Rc<Inner>) -> Promise {
    let (socket, changed) = {
        let mut c = inner.conn.borrow_mut();
        c.generation = c.generation.wrapping_add(1);
        c.retry = None;
        let socket = c.teardown();
        let changed = !matches!(c.link.state(), State::Idle | State::Closed);
        if changed {
            c.link.stopped();
        }
        (socket, changed)
    };
    api::cancel_status_timer(inner);
    if changed {
        inner.host.emit(CHANGE_CONNECTION);
    }
    match socket {
        Some(s) => inner
            .host
            .close_and_wait(&s.shut(1000, "stopped").into(), 2000),
        None => Promise::resolve(&JsValue::UNDEFINED),
    }
}

/// `connection()`.
pub(crate) fn status(inner: &Rc<Inner>) -> JsValue {
    let now = inner.now().mono_ms;
    let (url, error) = {
        let c = inner.conn.borrow();
        let l = &c.link;
        api::write_nums(
            inner,
            &[
                l.state() as u8 as f64,
                l.attempts(now) as f64,
                l.next_retry_ms(now).unwrap_or(-1.0),
            ],
        );
        (c.url.clone(), l.last_error().map(str::to_string))
    };
    inner.host.connection(url, error)
}
