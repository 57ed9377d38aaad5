//! The DECNET bus driver: a relaying connection (SUBs in step with clients,
//! EVTs relayed) and a publishing one, both reconnecting with backoff
//! forever, since the daemon may be absent at start and restart any time.

// Two connections, because the daemon never sends a publisher its own events
// back: what the gateway publishes reaches its clients only this way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

use super::interest::diff;
use super::relay::relay as normalise;
use super::Outgoing;
use crate::decnet::{encode, Decoder, Frame};
use crate::stats::Stats;
use crate::topic::parse_topic;
use crate::{backoff, unix_now, Shared};

/// The name the relaying connection gives in `HELLO`, for the daemon's logs.
pub const CLIENT_NAME: &str = "worker-gateway";
/// The publishing connection's name.
pub const PUBLISHER_NAME: &str = "worker-gateway-publisher";

/// Read size: a typical beat is ~200 bytes, a burst of them fits.
const READ_CHUNK: usize = 64 * 1024;

/// How one connection ended, in words for the status frame and the logs.
type End = String;

/// Keeps the relaying connection up for as long as the gateway runs.
pub async fn relay(shared: Arc<Shared>, path: PathBuf) {
    let mut wanted = shared.bus.wanted();
    let mut attempt = 0u32;
    loop {
        let error = match UnixStream::connect(&path).await {
            Ok(stream) => {
                attempt = 0;
                relay_session(&shared, stream, &mut wanted).await
            }
            Err(e) => cannot_connect(&path, e),
        };
        if shared.shutdown.is_cancelled() {
            return;
        }
        shared.bus.set_link(false, Some(error));
        if !pause(&shared, &mut attempt).await {
            return;
        }
    }
}

/// One connection: HELLO, the wanted SUBs, then EVTs in and SUB/UNSUB out
/// as clients come and go, until either side ends it.
async fn relay_session(
    shared: &Shared,
    stream: UnixStream,
    wanted: &mut watch::Receiver<BTreeSet<String>>,
) -> End {
    let (mut rd, mut wr) = stream.into_split();
    // Every SUB is sent again: a new connection holds nothing.
    let mut held = BTreeSet::new();
    let setup = async {
        send(&mut wr, "HELLO", CLIENT_NAME, b"").await?;
        let now = wanted.borrow_and_update().clone();
        apply(&mut wr, &mut held, &now).await
    };
    if let Err(e) = setup.await {
        return e;
    }
    shared.bus.set_link(true, None);

    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => {
                let _ = send(&mut wr, "BYE", "", b"").await;
                return "the gateway is shutting down".into();
            }
            changed = wanted.changed() => {
                if changed.is_err() {
                    return "the gateway is shutting down".into();
                }
                let now = wanted.borrow_and_update().clone();
                if let Err(e) = apply(&mut wr, &mut held, &now).await {
                    return e;
                }
            }
            read = rd.read(&mut buf) => {
                let n = match read {
                    Ok(0) => return "the daemon closed the connection".into(),
                    Ok(n) => n,
                    Err(e) => return format!("reading from the daemon: {e}"),
                };
                decoder.feed(&buf[..n]);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => {
                            if let Some(end) = on_frame(shared, frame) {
                                return end;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            Stats::incr(&shared.bus.stats.upstream_bad_frames);
                            return format!("malformed frame from the daemon: {e}");
                        }
                    }
                }
            }
        }
    }
}

/// Handles one frame from the daemon; `Some` ends the connection.
fn on_frame(shared: &Shared, frame: Frame) -> Option<End> {
    match frame.verb.as_str() {
        "EVT" => {
            let stats = &shared.bus.stats;
            if let Err(e) = parse_topic(&frame.args) {
                Stats::incr(&stats.upstream_bad_frames);
                tracing::debug!("EVT with a bad topic {:?}: {e}", frame.args);
                return None;
            }
            match normalise(&frame.args, &frame.body, rand::random(), unix_now()) {
                Ok(envelope) => {
                    Stats::incr(&stats.relayed);
                    shared.bus.publish(&frame.args, envelope);
                }
                Err(e) => {
                    Stats::incr(&stats.upstream_bad_frames);
                    tracing::debug!("EVT on {} skipped: {e}", frame.args);
                }
            }
            None
        }
        "BYE" => Some("the daemon said BYE".into()),
        other => {
            Stats::incr(&shared.bus.stats.upstream_bad_frames);
            Some(format!("unexpected {other:?} frame from the daemon"))
        }
    }
}

/// Sends the SUBs and UNSUBs that take `held` to `wanted`.
async fn apply(
    wr: &mut OwnedWriteHalf,
    held: &mut BTreeSet<String>,
    wanted: &BTreeSet<String>,
) -> Result<(), End> {
    let changes = diff(held, wanted);
    for pattern in &changes.subscribe {
        send(wr, "SUB", pattern, b"").await?;
        held.insert(pattern.clone());
    }
    for pattern in &changes.unsubscribe {
        send(wr, "UNSUB", pattern, b"").await?;
        held.remove(pattern);
    }
    Ok(())
}

/// Keeps the publishing connection up and drains `outbox` into `PUB`s.
/// While the daemon is away, events wait in the outbox (bounded: the
/// senders drop and count what does not fit).
pub async fn publish(shared: Arc<Shared>, path: PathBuf, mut outbox: mpsc::Receiver<Outgoing>) {
    let mut attempt = 0u32;
    loop {
        let error = match UnixStream::connect(&path).await {
            Ok(stream) => {
                attempt = 0;
                match publish_session(&shared, stream, &mut outbox).await {
                    Some(end) => end,
                    None => return,
                }
            }
            Err(e) => cannot_connect(&path, e),
        };
        tracing::debug!("publishing link to the DECNET bus: {error}");
        if !pause(&shared, &mut attempt).await {
            return;
        }
    }
}

/// One publishing connection; `None` when the outbox is closed for good.
async fn publish_session(
    shared: &Shared,
    stream: UnixStream,
    outbox: &mut mpsc::Receiver<Outgoing>,
) -> Option<End> {
    let (mut rd, mut wr) = stream.into_split();
    if let Err(e) = send(&mut wr, "HELLO", PUBLISHER_NAME, b"").await {
        return Some(e);
    }
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => {
                let _ = send(&mut wr, "BYE", "", b"").await;
                return None;
            }
            event = outbox.recv() => {
                let Some(event) = event else {
                    let _ = send(&mut wr, "BYE", "", b"").await;
                    return None;
                };
                if let Err(e) = send(&mut wr, "PUB", &event.topic, event.envelope.as_bytes()).await {
                    return Some(e);
                }
                Stats::incr(&shared.bus.stats.upstream_published);
            }
            // Nothing is expected here but BYE; reading notices the close.
            read = rd.read(&mut buf) => {
                match read {
                    Ok(0) => return Some("the daemon closed the connection".into()),
                    Err(e) => return Some(format!("reading from the daemon: {e}")),
                    Ok(n) => decoder.feed(&buf[..n]),
                }
                match decoder.next_frame() {
                    Ok(None) => {}
                    Ok(Some(frame)) if frame.verb == "BYE" => return Some("the daemon said BYE".into()),
                    Ok(Some(frame)) => return Some(format!("unexpected {:?} frame from the daemon", frame.verb)),
                    Err(e) => return Some(format!("malformed frame from the daemon: {e}")),
                }
            }
        }
    }
}

async fn send(wr: &mut OwnedWriteHalf, verb: &str, args: &str, body: &[u8]) -> Result<(), End> {
    let bytes = encode(verb, args, body).map_err(|e| format!("cannot encode {verb}: {e}"))?;
    wr.write_all(&bytes)
        .await
        .map_err(|e| format!("writing to the daemon: {e}"))
}

fn cannot_connect(path: &Path, e: std::io::Error) -> End {
    format!("cannot connect to {}: {e}", path.display())
}

/// Waits out the backoff; false if the gateway is shutting down.
async fn pause(shared: &Shared, attempt: &mut u32) -> bool {
    let delay = backoff::delay(*attempt, rand::random());
    *attempt = attempt.saturating_add(1);
    tokio::select! {
        _ = shared.shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}
