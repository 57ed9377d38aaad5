//! Executes the session's actions in the browser: the socket, the timers,
//! the token provider, the listeners. Every decision is made by the pure
//! [`Session`]; this module feeds it events with the time and runs what it
//! asks for, one action at a time.
//!
//! The rule that keeps it safe (see `host.rs`): no `RefCell` borrow is held
//! across a call into JS that can run user code. Listeners, a custom clock
//! and a token provider may call back into the registry (`snapshot()`,
//! `stop()`, `start()` with another URL) at any point; the session's
//! generations make whatever they leave queued harmless.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::WebSocket;

use crate::host::{self, FrameClock, Host, ROW_STRIDE};
use crate::link::Protocol;
use crate::registry::{Outcome, Registry, Status};
use crate::session::{self, Action, Loaded, Session, Settings, Timer as TimerKind};
use crate::socket::{Callback, Socket, SocketEvent, Timer};

/// The browser's side of a session: sockets, timers and callbacks.
#[derive(Default)]
struct Io {
    /// The socket, with the generation it was opened for.
    socket: Option<(u32, Socket)>,
    timers: [Option<Timer>; 6],
    /// While `stop()` runs its actions: the socket it closed, to wait on.
    closing: Option<Vec<WebSocket>>,
    /// The current `tokenProvider`, and its number in [`Settings`].
    provider: Option<Function>,
    provider_id: u32,
    /// Receives the token provider's answers; made on first use.
    token_callback: Option<Callback>,
}

/// Everything a registry owns. Timers and socket closures hold a `Weak` to
/// it, so dropping the registry (`free()`) drops them all.
pub(crate) struct Shell {
    pub(crate) host: Host,
    session: RefCell<Session>,
    /// Frames are copied here by the host (see `session::copy_buffer_bytes`).
    frame: RefCell<Vec<u8>>,
    /// Numbers the host reads snapshot rows from.
    nums: RefCell<Vec<f64>>,
    /// The `extra` version the host holds for each row.
    pushed: RefCell<Vec<u32>>,
    /// A `clock` option was given: it is user code, read before borrowing.
    custom_clock: bool,
    io: RefCell<Io>,
}

impl Shell {
    pub(crate) fn new(registry: Registry, clock: JsValue, seed: u64) -> Rc<Shell> {
        let n = registry.names().len();
        let host = Host::create(registry.names(), &clock, registry.max_frame_bytes());
        let frame = vec![0u8; session::copy_buffer_bytes(registry.max_frame_bytes())];
        let nums = vec![0f64; ROW_STRIDE * n];
        host.bind(
            frame.as_ptr() as u32,
            frame.len() as u32,
            nums.as_ptr() as u32,
            nums.len() as u32,
        );
        Rc::new(Shell {
            host,
            session: RefCell::new(Session::new(registry, seed)),
            frame: RefCell::new(frame),
            nums: RefCell::new(nums),
            pushed: RefCell::new(vec![0; n]),
            custom_clock: !clock.is_undefined(),
            io: RefCell::new(Io::default()),
        })
    }

    /// Both clocks now (runs a custom clock: call with nothing borrowed).
    pub(crate) fn now(&self) -> crate::clock::Instant {
        self.host.now()
    }

    fn frame_clock(&self) -> FrameClock<'_> {
        if self.custom_clock {
            FrameClock::Fixed(self.now())
        } else {
            FrameClock::Browser(&self.host)
        }
    }

    /// Reads the registry (no JS is called while it is borrowed).
    pub(crate) fn with_registry<T>(&self, f: impl FnOnce(&Registry) -> T) -> T {
        f(self.session.borrow().registry())
    }

    // ---- the API's entry points ----

    /// `ingest(frame)`.
    pub(crate) fn ingest(self: &Rc<Self>, data: &JsValue) -> Outcome {
        // A custom clock is read first: it may call snapshot(), which uses
        // the copy buffer.
        let clock = self.frame_clock();
        let load = self.host.load_frame(data, true);
        let (outcome, pending) = {
            let buffer = self.frame.borrow();
            let frame = host::loaded(load, &buffer);
            let mut session = self.session.borrow_mut();
            (session.ingest(frame, &clock), session.has_output())
        };
        // Most frames (other topics, refusals) leave nothing to do.
        if pending {
            self.run();
        }
        outcome
    }

    /// `record(worker, ts, payload)`.
    pub(crate) fn record(
        self: &Rc<Self>,
        worker: &str,
        ts: Option<f64>,
        payload: &JsValue,
    ) -> Outcome {
        let clock = self.frame_clock();
        let load = self.host.load_record(payload);
        let outcome = {
            let buffer = self.frame.borrow();
            let payload = host::loaded(load, &buffer);
            self.session
                .borrow_mut()
                .record(worker, ts, payload, &clock)
        };
        self.run();
        outcome
    }

    /// Counts a value refused before it reached the registry.
    pub(crate) fn refuse(self: &Rc<Self>, outcome: Outcome) -> Outcome {
        // The same clock type as every other frame: one copy of the rules.
        let clock = FrameClock::Fixed(self.now());
        let o = self
            .session
            .borrow_mut()
            .ingest(Loaded::Refused(outcome), &clock);
        self.run();
        o
    }

    /// `start(urls, options)`: `provider` is the `tokenProvider` function,
    /// numbered here so the session can tell a new one from the same one.
    pub(crate) fn start(
        self: &Rc<Self>,
        urls: Vec<String>,
        mut settings: Settings,
        provider: Option<Function>,
    ) {
        {
            let mut io = self.io.borrow_mut();
            settings.token_provider = provider.map(|f| {
                let same = io
                    .provider
                    .as_ref()
                    .is_some_and(|old| js_sys::Object::is(old, &f));
                if !same {
                    io.provider_id = io.provider_id.wrapping_add(1);
                    io.provider = Some(f);
                }
                io.provider_id
            });
        }
        let now = self.now();
        self.session.borrow_mut().start(urls, settings, now);
        self.run();
    }

    /// `stop()`: resolves once the socket has closed (or after 2 s if the
    /// server never answers the close).
    pub(crate) fn stop(self: &Rc<Self>) -> Promise {
        let outer = self.io.borrow_mut().closing.replace(Vec::new());
        self.session.borrow_mut().stop();
        self.run();
        let closing = std::mem::replace(&mut self.io.borrow_mut().closing, outer);
        match closing.unwrap_or_default().last() {
            Some(ws) => self.host.close_and_wait(ws, 2000),
            None => Promise::resolve(&JsValue::UNDEFINED),
        }
    }

    /// `connection()`, as a plain object.
    pub(crate) fn connection(&self) -> JsValue {
        let now = self.now();
        let session = self.session.borrow();
        crate::options::to_js(&crate::options::connection(&session.status(now)))
    }

    /// Writes the rows into the number buffer and refreshes the `extra`s
    /// that changed, then lets the host build the snapshot.
    pub(crate) fn snapshot(&self) -> js_sys::Array {
        let now = self.now();
        let mut changed = Vec::new();
        let n = {
            let session = self.session.borrow();
            let registry = session.registry();
            let mut nums = self.nums.borrow_mut();
            let pushed = self.pushed.borrow();
            for (i, row) in registry.rows(now).enumerate() {
                let k = ROW_STRIDE * i;
                nums[k] = match row.status {
                    Status::Unknown => 0.0,
                    Status::Ok => 1.0,
                    Status::Stale => 2.0,
                };
                nums[k + 1] = row.last_heartbeat_ts.unwrap_or(0.0);
                nums[k + 2] = row.seconds_since.unwrap_or(0.0);
                if registry.version(i) != pushed[i] {
                    changed.push(i);
                }
            }
            registry.names().len()
        };
        // Only rows whose beat changed since the last snapshot are parsed
        // again; every other row reuses its frozen `extra`.
        for i in changed {
            let (len, version) = {
                let session = self.session.borrow();
                let extra = session.registry().extra(i);
                self.frame.borrow_mut()[..extra.len()].copy_from_slice(extra);
                (extra.len(), session.registry().version(i))
            };
            self.host.set_extra(i as u32, len as u32);
            self.pushed.borrow_mut()[i] = version;
        }
        self.host.rows(n as u32)
    }

    // ---- running the session's actions ----

    /// Executes queued actions until there are none. Re-entrant: a listener
    /// run by an `Emit` may call `stop()`, which runs this loop itself.
    fn run(self: &Rc<Self>) {
        loop {
            let action = self.session.borrow_mut().poll();
            match action {
                Some(a) => self.execute(a),
                None => break,
            }
        }
    }

    fn execute(self: &Rc<Self>, action: Action) {
        match action {
            Action::Open { generation, url } => self.open(generation, &url),
            Action::FetchToken { generation } => {
                let (provider, done) = {
                    let mut io = self.io.borrow_mut();
                    let weak = Rc::downgrade(self);
                    let done = io
                        .token_callback
                        .get_or_insert_with(|| Callback::new(move |a| on_token(&weak, a)))
                        .function()
                        .clone();
                    (io.provider.clone(), done)
                };
                if let Some(p) = provider {
                    self.host.fetch_token(&p, generation, &done);
                }
            }
            Action::Send { generation, text } => {
                if let Some((g, s)) = &self.io.borrow().socket {
                    if *g == generation {
                        s.send(&text);
                    }
                }
            }
            Action::Close {
                generation,
                code,
                reason,
            } => {
                let mut io = self.io.borrow_mut();
                if matches!(&io.socket, Some((g, _)) if *g == generation) {
                    let (_, socket) = io.socket.take().expect("checked above");
                    let ws = socket.shut(code, reason);
                    if let Some(closing) = io.closing.as_mut() {
                        closing.push(ws);
                    }
                }
            }
            Action::Arm { timer, ms, serial } => {
                let weak = Rc::downgrade(self);
                let handle = Timer::once(ms, move || on_timer(&weak, timer, serial));
                self.io.borrow_mut().timers[timer as usize] = Some(handle);
            }
            Action::Cancel { timer } => {
                let old = self.io.borrow_mut().timers[timer as usize].take();
                drop(old);
            }
            Action::Emit(change) => self.host.emit_change(change),
        }
    }

    fn open(self: &Rc<Self>, generation: u32, url: &str) {
        let old = self.io.borrow_mut().socket.take();
        drop(old);
        let weak = Rc::downgrade(self);
        let sink: Rc<dyn Fn(SocketEvent)> =
            Rc::new(move |event| on_socket(&weak, generation, event));
        match Socket::open(url, sink) {
            Ok(socket) => self.io.borrow_mut().socket = Some((generation, socket)),
            Err(e) => {
                let now = self.now();
                self.session
                    .borrow_mut()
                    .on_open_failed(generation, &js_message(&e), now);
            }
        }
    }

    /// A message on the socket of `generation`.
    fn message(self: &Rc<Self>, generation: u32, data: &JsValue) {
        let protocol = self.session.borrow().settings().protocol;
        match protocol {
            Protocol::Gateway => {
                let clock = self.frame_clock();
                let load = self.host.load_frame(data, true);
                {
                    let buffer = self.frame.borrow();
                    let frame = host::loaded(load, &buffer);
                    self.session
                        .borrow_mut()
                        .on_gateway_frame(generation, frame, &clock);
                }
                self.run();
            }
            Protocol::Nats => {
                // The stream is fed through the copy buffer in chunks: a
                // nats-server message of any size fits, whatever
                // maxFrameBytes is.
                let total = self.host.size(data);
                let mut offset = 0;
                while offset < total {
                    let clock = self.frame_clock();
                    let n = self.host.chunk(offset);
                    if n == 0 {
                        break;
                    }
                    {
                        let buffer = self.frame.borrow();
                        self.session.borrow_mut().on_nats_chunk(
                            generation,
                            &buffer[..n as usize],
                            &clock,
                        );
                    }
                    self.run();
                    offset += n;
                }
            }
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // Listeners are released, and a token answer arriving later finds
        // nothing to call.
        self.host.clear();
    }
}

fn on_socket(weak: &Weak<Shell>, generation: u32, event: SocketEvent) {
    let Some(shell) = weak.upgrade() else { return };
    match event {
        SocketEvent::Open => {
            let now = shell.now();
            shell.session.borrow_mut().on_open(generation, now);
        }
        SocketEvent::Message(data) => return shell.message(generation, &data),
        SocketEvent::Close { code, reason } => {
            let now = shell.now();
            shell
                .session
                .borrow_mut()
                .on_close(generation, code, &reason, now);
        }
    }
    shell.run();
}

fn on_timer(weak: &Weak<Shell>, timer: TimerKind, serial: u32) {
    let Some(shell) = weak.upgrade() else { return };
    // The handle has fired; dropping it now cancels nothing.
    let fired = shell.io.borrow_mut().timers[timer as usize].take();
    drop(fired);
    let now = shell.now();
    shell.session.borrow_mut().on_timer(timer, serial, now);
    shell.run();
}

/// The host answers with [generation, token, error].
fn on_token(weak: &Weak<Shell>, answer: JsValue) {
    let Some(shell) = weak.upgrade() else { return };
    let answer: js_sys::Array = answer.unchecked_into();
    let generation = answer.get(0).as_f64().unwrap_or(-1.0) as u32;
    let (token, error) = (answer.get(1), answer.get(2));
    let result = if !error.is_undefined() {
        Err(js_message(&error))
    } else {
        token
            .as_string()
            .ok_or_else(|| String::from("it must return a string"))
    };
    let now = shell.now();
    shell.session.borrow_mut().on_token(generation, result, now);
    shell.run();
}

fn js_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return err.message().into();
    }
    e.as_string().unwrap_or_else(|| "an error".into())
}
