//! One WebSocket client: a reader that authenticates and answers requests,
//! and a writer task that drains the client's bounded queue and sends the
//! closing frame (4401, 1009, 4408, 1001) when the gateway ends the session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::bus::{ClientHandle, ClientId};
use crate::frame::{self, ClientFrame, MAX_CLIENT_FRAME};
use crate::limit::TokenBucket;
use crate::stats::Stats;
use crate::topic::{parse_topic, Pattern};
use crate::{unix_now, Shared};

/// How long a client has to send its auth frame when a token is required.
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a closing handshake may take before the socket is dropped: long
/// enough for a client that was briefly busy to read its close code, short
/// enough that a dead client does not hold a task for long.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// How long a connection whose stream broke stays open after our close
/// frame, so the peer can read it.
const LINGER: Duration = Duration::from_millis(500);

/// At most one "you are being rate limited" error frame per this period, so
/// a flood of refused publishes cannot itself fill the queue.
const SHED_NOTICE_EVERY: Duration = Duration::from_secs(1);

/// How long a `sub` waits for the warm start (`--nats-stream`). Past this
/// it is served anyway, with what the gateway has: a bus that is away must
/// not keep clients from hearing the status frame that says so.
const WARM_WAIT: Duration = Duration::from_secs(10);

/// Serves one upgraded WebSocket until either side closes it.
pub async fn serve(socket: WebSocket, shared: Arc<Shared>) {
    let (id, handle, rx) = shared.bus.connect(&shared.shutdown);
    let (sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(write_loop(
        sink,
        rx,
        handle.close.clone(),
        shared.shutdown.clone(),
    ));

    let mut session = Session::new(id, handle, &shared);
    let (writer_finished, readable) = tokio::select! {
        end = session.read_loop(&mut stream) => (false, matches!(end, ReadEnd::Clean)),
        _ = &mut writer => (true, true),
    };

    // Dropping the last senders lets the writer drain what is queued
    // (possibly our own close frame) and stop.
    drop(session);
    shared.bus.disconnect(id);

    // Wait for the peer's answer to the close frame, so it reads our close
    // code before the TCP connection goes away.
    let _ = timeout(CLOSE_GRACE, async {
        if !writer_finished {
            let _ = (&mut writer).await;
        }
        if readable {
            while let Some(Ok(_)) = stream.next().await {}
        } else {
            // Unread bytes (say, the rest of an oversized frame) would make
            // the kernel answer our close with a reset that can destroy the
            // close frame in flight; hold the socket open while it lands.
            tokio::time::sleep(LINGER).await;
        }
    })
    .await;
    writer.abort();
}

/// Drains the client's queue into the socket. Ends when the queue is closed
/// (the reader is done), after sending a close frame, or when `close` is
/// cancelled (slow consumer or shutdown), which it answers with a close frame.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Message>,
    close: CancellationToken,
    shutdown: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            biased;
            _ = close.cancelled() => break,
            msg = rx.recv() => msg,
        };
        let Some(msg) = msg else {
            // Flushes any close reply tungstenite queued for the peer.
            let _ = timeout(CLOSE_GRACE, sink.close()).await;
            return;
        };
        let is_close = matches!(msg, Message::Close(_));
        // A send blocks while the peer does not read; cancelling it is safe,
        // since the frame is either whole in tungstenite's buffer or not there.
        tokio::select! {
            biased;
            _ = close.cancelled() => break,
            sent = sink.send(msg) => {
                if sent.is_err() || is_close {
                    return;
                }
            }
        }
    }
    let (code, reason) = if shutdown.is_cancelled() {
        (1001, "going away")
    } else {
        (4408, "slow consumer")
    };
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
}

/// The reader's state: who the client is and what it may do.
struct Session<'a> {
    id: ClientId,
    handle: Arc<ClientHandle>,
    shared: &'a Shared,
    authenticated: bool,
    publisher: bool,
    bucket: TokenBucket,
    last_shed_notice: Option<Instant>,
    /// The patterns this client may subscribe within.
    readable: Vec<Pattern>,
}

/// How the reader ended: a clean stream can still be drained for the
/// peer's close reply; a broken one cannot.
enum ReadEnd {
    Clean,
    Broken,
}

/// Whether the reader goes on after a frame.
enum Flow {
    Continue,
    Stop,
}

impl<'a> Session<'a> {
    fn new(id: ClientId, handle: Arc<ClientHandle>, shared: &'a Shared) -> Session<'a> {
        let rate = f64::from(shared.config.publish_rate);
        // The burst may not exceed half a subscriber's queue: a publisher
        // within its rate must never, by itself, fill the queue of a client
        // that is reading, and get it closed as a slow consumer.
        let burst = (2.0 * rate).min(shared.config.queue as f64 / 2.0).max(1.0);
        Session {
            id,
            handle,
            shared,
            authenticated: shared.config.token.is_none(),
            publisher: false,
            bucket: TokenBucket::new(rate, burst, Instant::now()),
            last_shed_notice: None,
            readable: shared.config.readable(),
        }
    }

    async fn read_loop(&mut self, stream: &mut SplitStream<WebSocket>) -> ReadEnd {
        let auth_deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
        loop {
            let next = if self.authenticated {
                stream.next().await
            } else {
                match tokio::time::timeout_at(auth_deadline, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        self.refuse_auth("no auth frame in time");
                        return ReadEnd::Clean;
                    }
                }
            };
            let msg = match next {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => {
                    tracing::debug!(client = self.id, "read error: {e}");
                    // A frame beyond the WebSocket layer's own cap is still
                    // "too large", not a broken connection.
                    if is_too_long(e) {
                        self.too_large();
                    }
                    return ReadEnd::Broken;
                }
                None => return ReadEnd::Clean,
            };
            let flow = match msg {
                Message::Text(text) => self.on_text(text.as_str()).await,
                Message::Binary(bytes) => self.on_binary(bytes.len()),
                // tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) => Flow::Continue,
                Message::Close(_) => Flow::Stop,
            };
            if let Flow::Stop = flow {
                return ReadEnd::Clean;
            }
        }
    }

    fn on_binary(&mut self, len: usize) -> Flow {
        if len > MAX_CLIENT_FRAME {
            return self.too_large();
        }
        if !self.authenticated {
            return self.refuse_auth("binary frame before auth");
        }
        self.error("binary frames are not supported; send JSON text frames");
        Flow::Continue
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        if text.len() > MAX_CLIENT_FRAME {
            return self.too_large();
        }
        let request = ClientFrame::parse(text);
        if !self.authenticated {
            return match request {
                Ok(ClientFrame::Auth { token }) => self.on_auth(&token),
                _ => self.refuse_auth("first frame was not auth"),
            };
        }
        match request {
            Err(reason) => self.error(&reason),
            Ok(ClientFrame::Auth { token }) => return self.on_auth(&token),
            Ok(ClientFrame::Sub { sid, pattern }) => match Pattern::parse(&pattern) {
                Err(e) => self.error(&format!("invalid pattern {pattern:?}: {e}")),
                Ok(p) if !self.readable.iter().any(|a| p.is_subset_of(a)) => {
                    Stats::incr(&self.shared.bus.stats.refused_subs);
                    self.error(&refused_pattern(&pattern, &self.readable));
                }
                Ok(p) => {
                    self.await_warm_start().await;
                    if let Err(e) = self.shared.bus.subscribe(self.id, sid, p) {
                        self.error(&e);
                    }
                }
            },
            Ok(ClientFrame::Unsub { sid }) => {
                if let Err(e) = self.shared.bus.unsubscribe(self.id, sid) {
                    self.error(&e);
                }
            }
            Ok(ClientFrame::Ping) => self.send_text(frame::PONG.into()),
            Ok(ClientFrame::Pub {
                topic,
                payload,
                kind,
            }) => self.publish(&topic, &payload, kind.as_deref()),
        }
        Flow::Continue
    }

    fn on_auth(&mut self, token: &str) -> Flow {
        let config = &self.shared.config;
        if config
            .publisher_token
            .as_deref()
            .is_some_and(|t| same_secret(t, token))
        {
            self.authenticated = true;
            self.publisher = true;
            self.shared.bus.enable_status(self.id);
        } else if config
            .token
            .as_deref()
            .is_some_and(|t| same_secret(t, token))
        {
            self.authenticated = true;
            self.shared.bus.enable_status(self.id);
        } else if config.token.is_some() {
            return self.refuse_auth("wrong token");
        } else {
            // No token is required here: a client that sends one anyway
            // stays connected, but must not believe it may publish.
            self.error("unknown token; this gateway requires none, publishing stays off");
        }
        Flow::Continue
    }

    fn publish(&mut self, topic: &str, payload: &Map<String, Value>, kind: Option<&str>) {
        if !self.publisher {
            return self.error("pub requires the publisher token");
        }
        // The bucket comes first so that even refused publishes are bounded.
        let now = Instant::now();
        if !self.bucket.try_take(now) {
            Stats::incr(&self.shared.bus.stats.shed);
            let quiet = self
                .last_shed_notice
                .is_some_and(|t| now.duration_since(t) < SHED_NOTICE_EVERY);
            if !quiet {
                self.last_shed_notice = Some(now);
                self.error(&format!(
                    "publish rate limit exceeded ({} per second); publishes are being dropped",
                    self.shared.config.publish_rate
                ));
            }
            return;
        }
        if let Err(e) = parse_topic(topic) {
            return self.error(&format!("invalid topic {topic:?}: {e}"));
        }
        let kind = kind.unwrap_or_else(|| frame::default_kind(topic));
        let envelope = frame::envelope(rand::random(), topic, kind, unix_now(), payload);
        if self.shared.pub_goes_upstream() {
            // Comes back through the relay, like any event on the bus.
            self.shared.publish_upstream(topic, envelope);
        } else {
            self.shared.bus.publish(topic, envelope);
        }
    }

    /// Holds a `sub` until the retained beats are loaded (`--nats-stream`),
    /// so its replay is complete, for at most `WARM_WAIT`.
    async fn await_warm_start(&self) {
        let mut warm = self.shared.warm.subscribe();
        if *warm.borrow() {
            return;
        }
        let _ = timeout(WARM_WAIT, warm.wait_for(|w| *w)).await;
    }

    fn too_large(&mut self) -> Flow {
        self.error(&format!("frame too large (max {MAX_CLIENT_FRAME} bytes)"));
        self.close(1009, "frame too large");
        Flow::Stop
    }

    fn refuse_auth(&mut self, why: &str) -> Flow {
        Stats::incr(&self.shared.bus.stats.auth_failures);
        tracing::info!(client = self.id, "unauthorized: {why}");
        self.close(4401, "unauthorized");
        Flow::Stop
    }

    fn error(&self, message: &str) {
        self.send_text(frame::error(message));
    }

    fn send_text(&self, text: String) {
        self.shared
            .bus
            .send(&self.handle, Message::Text(text.into()));
    }

    fn close(&self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        self.shared
            .bus
            .send(&self.handle, Message::Close(Some(frame)));
    }
}

/// The error frame for a `sub` outside what clients may read.
fn refused_pattern(pattern: &str, readable: &[Pattern]) -> String {
    let allowed: Vec<&str> = readable.iter().map(Pattern::as_str).collect();
    format!(
        "subscription to {pattern:?} refused: clients may read only {}; \
         start the gateway with --allow-subscribe {pattern} to allow it",
        allowed.join(", ")
    )
}

/// True for tungstenite's "message longer than max_message_size" error.
fn is_too_long(e: axum::Error) -> bool {
    matches!(
        e.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// Compares two secrets in time independent of where they differ, so the
/// token cannot be guessed byte by byte from response times.
fn same_secret(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::{refused_pattern, same_secret};
    use crate::topic::Pattern;

    #[test]
    fn a_refusal_names_the_pattern_and_the_flag() {
        let readable = [Pattern::parse("system.*.health").expect("valid")];
        let msg = refused_pattern("attacker.>", &readable);
        assert!(msg.contains("\"attacker.>\""), "{msg}");
        assert!(msg.contains("--allow-subscribe attacker.>"), "{msg}");
        assert!(msg.contains("system.*.health"), "{msg}");
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "x"));
        assert!(same_secret("", ""));
    }
}
