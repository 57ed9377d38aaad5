//! The connection's bookkeeping, shared by both transports: its state, the
//! attempt count and its reset, the last error, the next retry, and the
//! gateway protocol's client frames. Pure: [`crate::session`] drives it.

use crate::backoff::Backoff;
use crate::json;

/// A connection that stayed open this long counts as healthy: the attempt
/// count starts again from zero.
pub const STABLE_MS: f64 = 10_000.0;

/// `ConnectionStatus.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Never started, or started without a URL.
    Idle = 0,
    Connecting = 1,
    Open = 2,
    /// Waiting to retry.
    Backoff = 3,
    /// Stopped by `stop()`.
    Closed = 4,
}

/// Which protocol the WebSocket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The project's JSON gateway protocol.
    Gateway,
    /// The NATS client protocol, straight to a `nats-server` listener.
    Nats,
}

/// The connection's state between events.
#[derive(Debug, Default)]
pub struct Link {
    state: Option<State>,
    /// Consecutive connections that failed or ended.
    failures: u32,
    /// Monotonic ms when the current connection opened.
    opened_at: Option<f64>,
    last_error: Option<String>,
    /// The last error was named by the server itself during this attempt
    /// (`4401`, `-ERR`), so the close that follows must not overwrite it.
    error_is_final: bool,
    retry_at: Option<f64>,
}

impl Link {
    pub fn state(&self) -> State {
        self.state.unwrap_or(State::Idle)
    }

    /// Failed attempts in a row, 0 once a connection has stayed open
    /// [`STABLE_MS`].
    pub fn attempts(&self, now_mono: f64) -> u32 {
        if self.is_stable(now_mono) {
            0
        } else {
            self.failures
        }
    }

    fn is_stable(&self, now_mono: f64) -> bool {
        matches!(self.opened_at, Some(t) if now_mono - t >= STABLE_MS)
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Milliseconds until the next attempt, while waiting for it.
    pub fn next_retry_ms(&self, now_mono: f64) -> Option<f64> {
        match (self.state(), self.retry_at) {
            (State::Backoff, Some(t)) => Some((t - now_mono).max(0.0).round()),
            _ => None,
        }
    }

    /// A new attempt begins (the token provider is asked, then the socket
    /// opened).
    pub fn connecting(&mut self) {
        self.state = Some(State::Connecting);
        self.retry_at = None;
        self.opened_at = None;
        self.error_is_final = false;
    }

    /// The connection is up and subscribed.
    pub fn opened(&mut self, now_mono: f64) {
        self.state = Some(State::Open);
        self.opened_at = Some(now_mono);
    }

    /// The server named an error. `fatal` errors (unauthorized) are kept
    /// over the close that follows them.
    pub fn error(&mut self, message: String, fatal: bool) {
        if self.error_is_final && !fatal {
            return;
        }
        self.last_error = Some(message);
        self.error_is_final |= fatal;
    }

    /// The connection ended or could not be made: schedule the next attempt.
    /// Returns the delay in ms. `jitter` is uniform in [0, 1).
    pub fn failed(&mut self, error: String, now_mono: f64, jitter: f64, backoff: &Backoff) -> f64 {
        if self.is_stable(now_mono) {
            self.failures = 0;
        }
        self.error(error, false);
        let delay = backoff.delay_ms(self.failures, jitter);
        self.failures = self.failures.saturating_add(1);
        self.state = Some(State::Backoff);
        self.opened_at = None;
        self.retry_at = Some(now_mono + delay);
        delay
    }

    /// `stop()`: no retry is pending any more.
    pub fn stopped(&mut self) {
        self.state = Some(State::Closed);
        self.retry_at = None;
        self.opened_at = None;
    }

    /// A fresh `start()` after `stop()`: the history of the old connection
    /// does not carry over.
    pub fn reset(&mut self) {
        *self = Link::default();
    }
}

/// What a close code tells the user, for `last_error`.
pub fn close_error(code: u16, reason: &str, was_open: bool) -> String {
    let what = match code {
        4401 => return "unauthorized".into(),
        4408 => "the gateway closed the connection: this client fell too far behind (4408)",
        1009 => "the gateway refused a frame as too large (1009)",
        1000 | 1001 => "the server closed the connection",
        1006 if was_open => "the connection was lost",
        1006 => "could not connect",
        _ => "the connection closed",
    };
    let mut m = String::from(what);
    if !matches!(code, 4408 | 1009 | 1006) {
        m.push_str(" (");
        json::push_u64(&mut m, code as u64);
        m.push(')');
    }
    if !reason.is_empty() {
        m.push_str(": ");
        m.push_str(reason);
    }
    m
}

/// The gateway protocol's opening frames: `auth` when there is a token, then
/// one `sub` for every worker's beat and one for the bus's own (`*` matches
/// one token, and some gateways route `system.bus.health` specially).
pub fn gateway_hello(token: Option<&str>) -> Vec<String> {
    let mut frames = Vec::with_capacity(3);
    if let Some(t) = token {
        let mut f = String::from(r#"{"op":"auth","token":"#);
        json::quote(t, &mut f);
        f.push('}');
        frames.push(f);
    }
    frames.push(r#"{"op":"sub","sid":1,"pattern":"system.*.health"}"#.into());
    frames.push(r#"{"op":"sub","sid":2,"pattern":"system.bus.health"}"#.into());
    frames
}

/// The gateway protocol's keepalive.
pub const GATEWAY_PING: &str = r#"{"op":"ping"}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_failures_and_reset_after_ten_stable_seconds() {
        let b = Backoff::default();
        let mut l = Link::default();
        assert_eq!(l.state(), State::Idle);
        l.connecting();
        assert_eq!(l.failed("could not connect".into(), 0.0, 0.5, &b), 250.0);
        assert_eq!(l.attempts(0.0), 1);
        assert_eq!(l.state(), State::Backoff);
        assert_eq!(l.next_retry_ms(100.0), Some(150.0));
        l.connecting();
        assert_eq!(l.next_retry_ms(100.0), None);
        assert_eq!(
            l.failed("x".into(), 1000.0, 0.5, &b),
            500.0,
            "the ceiling doubled"
        );
        l.connecting();
        l.opened(2000.0);
        assert_eq!(l.attempts(2000.0 + STABLE_MS - 1.0), 2, "not stable yet");
        // Dropped after 5 s: still unstable, the backoff keeps growing.
        assert_eq!(l.failed("lost".into(), 7000.0, 0.5, &b), 1000.0);
        assert_eq!(l.attempts(7000.0), 3);
        l.connecting();
        l.opened(8000.0);
        assert_eq!(l.attempts(8000.0 + STABLE_MS), 0, "stable after 10 s");
        // Dropped after a long healthy stretch: the first retry is quick.
        assert_eq!(l.failed("lost".into(), 60_000.0, 0.5, &b), 250.0);
        assert_eq!(l.attempts(60_000.0), 1);
    }

    #[test]
    fn an_unauthorized_close_is_not_overwritten() {
        let b = Backoff::default();
        let mut l = Link::default();
        l.connecting();
        l.error("nats: Authorization Violation".into(), true);
        l.failed(close_error(1006, "", true), 10.0, 0.0, &b);
        assert_eq!(l.last_error(), Some("nats: Authorization Violation"));
        // The next attempt may name a new error.
        l.connecting();
        l.failed(close_error(1006, "", false), 20.0, 0.0, &b);
        assert_eq!(l.last_error(), Some("could not connect"));
    }

    #[test]
    fn stop_and_reset() {
        let b = Backoff::default();
        let mut l = Link::default();
        l.connecting();
        l.failed("x".into(), 0.0, 0.9, &b);
        l.stopped();
        assert_eq!(l.state(), State::Closed);
        assert_eq!(l.next_retry_ms(0.0), None);
        l.reset();
        assert_eq!(l.state(), State::Idle);
        assert_eq!(l.attempts(0.0), 0);
        assert_eq!(l.last_error(), None);
    }

    #[test]
    fn close_codes_read_as_sentences() {
        assert_eq!(close_error(4401, "unauthorized", true), "unauthorized");
        assert_eq!(
            close_error(4408, "slow consumer", true),
            "the gateway closed the connection: this client fell too far behind (4408): slow consumer"
        );
        assert_eq!(
            close_error(1001, "going away", true),
            "the server closed the connection (1001): going away"
        );
        assert_eq!(close_error(1006, "", true), "the connection was lost");
        assert_eq!(close_error(1006, "", false), "could not connect");
    }

    #[test]
    fn gateway_hello_authenticates_then_subscribes_twice() {
        assert_eq!(
            gateway_hello(None),
            [
                r#"{"op":"sub","sid":1,"pattern":"system.*.health"}"#,
                r#"{"op":"sub","sid":2,"pattern":"system.bus.health"}"#
            ]
        );
        let f = gateway_hello(Some("t\"k"));
        assert_eq!(f.len(), 3);
        let auth: serde_json::Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(auth, serde_json::json!({"op":"auth","token":"t\"k"}));
    }
}
