//! The only module that touches the browser's WebSocket, its event closures,
//! and timers. Each closure is owned by the value that registered it and
//! removed when that value is dropped: nothing is leaked with `forget()`.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

thread_local! {
    // Live sockets and timers, for tests that prove nothing is left behind.
    static LIVE_SOCKETS: Cell<u32> = const { Cell::new(0) };
    static LIVE_TIMERS: Cell<u32> = const { Cell::new(0) };
}

/// (open sockets, pending timers) owned by every registry on the page.
pub fn live_counts() -> (u32, u32) {
    (LIVE_SOCKETS.with(Cell::get), LIVE_TIMERS.with(Cell::get))
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u32>>, up: bool) {
    counter.with(|c| {
        c.set(if up {
            c.get() + 1
        } else {
            c.get().saturating_sub(1)
        })
    });
}

/// What a socket reports.
pub enum SocketEvent {
    Open,
    /// A text (`string`) or binary (`ArrayBuffer`) message.
    Message(JsValue),
    Close {
        code: u16,
        reason: String,
    },
}

/// A WebSocket and the closure that listens to it.
pub struct Socket {
    ws: WebSocket,
    /// One closure for `open`, `message` and `close`: each distinct closure
    /// type costs the wasm its own shims, so all events share this one.
    _listener: Closure<dyn FnMut(JsValue)>,
}

impl Socket {
    /// Opens a socket to `url`; events go to `sink` until the socket is
    /// dropped. Fails only when the browser refuses the URL.
    pub fn open(url: &str, sink: Rc<dyn Fn(SocketEvent)>) -> Result<Socket, JsValue> {
        let ws = WebSocket::new(url)?;
        // Binary frames as ArrayBuffer: copied straight into wasm memory,
        // where a Blob would need an asynchronous read.
        ws.set_binary_type(BinaryType::Arraybuffer);
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            if let Some(m) = e.dyn_ref::<MessageEvent>() {
                sink(SocketEvent::Message(m.data()));
            } else if let Some(c) = e.dyn_ref::<CloseEvent>() {
                sink(SocketEvent::Close {
                    code: c.code(),
                    reason: c.reason(),
                });
            } else {
                sink(SocketEvent::Open);
            }
        });
        let f: &js_sys::Function = listener.as_ref().unchecked_ref();
        ws.set_onopen(Some(f));
        ws.set_onmessage(Some(f));
        // An `error` event is always followed by `close`, which carries the
        // code; listening to `close` alone sees every failure once.
        ws.set_onclose(Some(f));
        bump(&LIVE_SOCKETS, true);
        Ok(Socket {
            ws,
            _listener: listener,
        })
    }

    /// Sends a text frame; false if the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(text).is_ok()
    }

    /// Detaches the listeners and starts the close handshake; returns the
    /// socket so the caller can wait for it to finish closing.
    pub fn shut(self, code: u16, reason: &str) -> WebSocket {
        let ws = self.ws.clone();
        if matches!(ws.ready_state(), WebSocket::CONNECTING | WebSocket::OPEN) {
            let _ = ws.close_with_code_and_reason(code, reason);
        }
        ws
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if matches!(
            self.ws.ready_state(),
            WebSocket::CONNECTING | WebSocket::OPEN
        ) {
            // 1000: a deliberate close by this client.
            let _ = self
                .ws
                .close_with_code_and_reason(1000, "closed by the registry");
        }
        bump(&LIVE_SOCKETS, false);
    }
}

/// A one-shot timer, cancelled when dropped.
pub struct Timer {
    _timeout: Timeout,
}

impl Timer {
    pub fn once(ms: f64, f: impl FnOnce() + 'static) -> Timer {
        // setTimeout takes a signed 32-bit delay; longer ones fire at once.
        let ms = if ms.is_finite() {
            ms.clamp(0.0, 2_147_483_647.0)
        } else {
            0.0
        };
        bump(&LIVE_TIMERS, true);
        Timer {
            _timeout: Timeout::new(ms.ceil() as u32, f),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        bump(&LIVE_TIMERS, false);
    }
}

/// A JS function that calls back into Rust with one value, owned here and
/// released when dropped (the token provider's answer arrives through one).
pub struct Callback {
    closure: Closure<dyn FnMut(JsValue)>,
}

impl Callback {
    pub fn new(f: impl FnMut(JsValue) + 'static) -> Callback {
        Callback {
            closure: Closure::new(f),
        }
    }

    pub fn function(&self) -> &js_sys::Function {
        self.closure.as_ref().unchecked_ref()
    }
}
