//! The admin endpoints (only with `--admin`): `GET /admin/stats` as JSON,
//! the `/admin/flood` WebSocket that benchmarks a browser's receive path, and
//! `POST /admin/sim/{worker}/{stop|start}` for the simulated fleet.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::flood::{self, Kind};
use crate::server::{forbidden_origin, origin_allowed};
use crate::{unix_now, Shared};

/// Upper bound on one flood, so a typo cannot tie a socket up for days.
const MAX_FLOOD: u64 = 100_000_000;

pub async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let bus = &shared.bus;
    let mut snapshot = serde_json::to_value(bus.stats.snapshot(
        bus.retained_topics(),
        shared.started.elapsed().as_secs_f64(),
    ))
    .unwrap_or_default();
    snapshot["upstream"] = serde_json::to_value(bus.link()).unwrap_or_default();
    (
        // Readable from a benchmark page on another port or origin.
        [
            (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Json(snapshot),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct FloodParams {
    count: Option<u64>,
    kind: Option<String>,
    binary: Option<String>,
}

/// `GET /admin/flood?count=N&kind=beat|other|unknown|mix&binary=0|1`.
pub async fn flood(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<FloodParams>,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &shared.config.allow_origins) {
        return forbidden_origin(&headers);
    }
    let count = params.count.unwrap_or(10_000);
    if count > MAX_FLOOD {
        return bad_request(&format!("count must be at most {MAX_FLOOD}"));
    }
    let kind_name = params.kind.as_deref().unwrap_or("mix");
    let Some(kind) = Kind::parse(kind_name) else {
        return bad_request("kind must be beat, other, unknown or mix");
    };
    let binary = match params.binary.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => return bad_request("binary must be 0 or 1"),
    };
    let frames: Vec<Message> = flood::frames(kind, unix_now())
        .into_iter()
        .map(|f| {
            if binary {
                Message::Binary(f.into())
            } else {
                Message::Text(f.into())
            }
        })
        .collect();
    tracing::info!("flood: {count} {kind_name} frames (binary: {binary})");
    let tasks = shared.tasks.clone();
    let shutdown = shared.shutdown.clone();
    ws.on_upgrade(move |socket| tasks.track_future(send_flood(socket, frames, count, shutdown)))
}

/// Sends `count` frames, awaiting each send: the socket's own backpressure
/// paces the flood, so nothing queues up in the gateway.
async fn send_flood(
    mut socket: WebSocket,
    frames: Vec<Message>,
    count: u64,
    shutdown: CancellationToken,
) {
    let mut sent: u64 = 0;
    for msg in frames.iter().cycle().take(count as usize) {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            result = socket.send(msg.clone()) => {
                if result.is_err() {
                    return; // the client went away
                }
            }
        }
        sent += 1;
    }
    let done = format!(r#"{{"op":"flood_done","count":{sent}}}"#);
    let _ = socket.send(Message::Text(done.into())).await;
    let (code, reason) = if shutdown.is_cancelled() {
        (1001, "going away")
    } else {
        (1000, "flood done")
    };
    let close = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
    // Read until the peer answers the close, so it sees our close frame
    // before the TCP connection goes away.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = socket.recv().await {}
    })
    .await;
}

/// `POST /admin/sim/{worker}/{stop|start}`: stops or starts a simulated
/// worker (with `--simulate`). Answers `{"worker", "running"}`; 404 for a
/// worker the fleet does not have, 400 for another action, 409 without
/// `--simulate`. Origins are checked as for the bus: a page of another
/// origin cannot stop the fleet.
pub async fn sim(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((worker, action)): Path<(String, String)>,
) -> Response {
    if !origin_allowed(&headers, &shared.config.allow_origins) {
        return forbidden_origin(&headers);
    }
    let running = match action.as_str() {
        "start" => true,
        "stop" => false,
        _ => return bad_request("the action must be stop or start"),
    };
    if !shared.config.simulate {
        return (
            StatusCode::CONFLICT,
            "no simulated fleet: start the gateway with --simulate\n",
        )
            .into_response();
    }
    match shared.sim.set_running(&worker, running) {
        Some(running) => {
            tracing::info!(
                "simulated {worker} {}",
                if running { "started" } else { "stopped" }
            );
            (
                [(CACHE_CONTROL, "no-cache")],
                Json(serde_json::json!({ "worker": worker, "running": running })),
            )
                .into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "no such simulated worker (the allowlisted workers can be stopped and started)\n",
        )
            .into_response(),
    }
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}
