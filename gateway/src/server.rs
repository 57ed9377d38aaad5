//! The HTTP side: routes, the Origin policy checked before every WebSocket
//! upgrade, and static files served with cross-origin isolation headers.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use tower_http::services::ServeDir;

use crate::{admin, conn, metrics, Shared};

/// The WebSocket layer's own cap on a message. Above the protocol's 4 KiB
/// on purpose: frames between the two get a readable error and close 1009
/// from the session; only absurd ones are cut off by tungstenite itself.
pub const MAX_WS_MESSAGE: usize = 64 * 1024;

/// Initial read buffer of a connection; larger frames still arrive whole.
const READ_BUFFER: usize = 8 * 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .route("/bus", get(bus_socket))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text));
    if shared.config.admin {
        app = app
            .route("/admin/stats", get(admin::stats))
            .route("/admin/flood", get(admin::flood))
            .route("/admin/sim/{worker}/{action}", post(admin::sim));
    }
    // Explicit, so a file named admin/... in the static directory can never
    // stand in for the admin API.
    app = app
        .route("/admin", any(not_found))
        .route("/admin/{*rest}", any(not_found));

    let mut root = false;
    for mount in &shared.config.static_dirs {
        let files = Router::new()
            .fallback_service(ServeDir::new(&mount.dir))
            .layer(middleware::from_fn(static_headers));
        if mount.path == "/" {
            root = true;
            app = app.fallback_service(files);
        } else {
            app = app.nest_service(&mount.path, files);
        }
    }
    if !root {
        app = app.route("/", get(banner));
    }
    app.with_state(shared)
}

async fn bus_socket(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &shared.config.allow_origins) {
        return forbidden_origin(&headers);
    }
    let tasks = shared.tasks.clone();
    // Client frames are small (4 KiB at most); tungstenite's default 128 KiB
    // read buffer per connection would make a thousand idle clients cost
    // 130 MiB.
    ws.read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| tasks.track_future(conn::serve(socket, shared)))
}

/// The Origin policy (cross-site WebSocket hijacking defence). No Origin
/// header: not a browser, allowed. Otherwise the origin must be the
/// request's own host, be listed, or the list must hold `*`.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    ["http://", "https://"].iter().any(|scheme| {
        origin.len() == scheme.len() + host.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && origin[scheme.len()..].eq_ignore_ascii_case(host)
    })
}

pub fn forbidden_origin(headers: &HeaderMap) -> Response {
    let origin = headers
        .get(ORIGIN)
        .and_then(|o| o.to_str().ok())
        .unwrap_or("?");
    tracing::info!("refused a WebSocket from origin {origin:?}");
    (
        StatusCode::FORBIDDEN,
        "origin not allowed (start the gateway with --allow-origin ORIGIN)\n",
    )
        .into_response()
}

/// Static responses: cross-origin isolated (COOP/COEP) so benchmark pages
/// get a precise `performance.now()`, never cached stale during
/// development, and with the MIME types browsers insist on for modules
/// and `WebAssembly.instantiateStreaming`.
async fn static_headers(req: Request, next: Next) -> Response {
    let mime = mime_for(req.uri().path());
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-embedder-policy",
        HeaderValue::from_static("require-corp"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let (Some(mime), true) = (mime, res.status().is_success()) {
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    }
    res
}

fn mime_for(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    match ext {
        "wasm" => Some("application/wasm"),
        "js" | "mjs" => Some("text/javascript"),
        _ => None,
    }
}

async fn banner() -> &'static str {
    "worker-gateway: the bus WebSocket is at /bus (start with --static DIR to serve a page here)\n"
}

/// 200 while the process serves: for a supervisor's liveness check.
async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 only while the upstream is up and the warm start is done: for a
/// load balancer, which should send no client to a replica that would show
/// a stale or empty fleet.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let link = shared.bus.link();
    let warm = *shared.warm.borrow();
    let body = serde_json::json!({
        "ready": shared.ready(),
        "upstream": link.state,
        "warm": warm,
        "error": link.error,
    })
    .to_string();
    let status = if shared.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&shared),
    )
        .into_response()
}

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_str(host).expect("header"));
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(o).expect("header"));
        }
        h
    }

    #[test]
    fn same_host_and_listed_origins_pass() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(&headers(None, "127.0.0.1:8080"), &none));
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            &none
        ));
        assert!(origin_allowed(
            &headers(Some("https://LOCALHOST:8080"), "localhost:8080"),
            &none
        ));
        assert!(!origin_allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:8080"),
            &none
        ));
        assert!(!origin_allowed(
            &headers(Some("http://127.0.0.1:8080.evil"), "127.0.0.1:8080"),
            &none
        ));
        let listed = vec!["http://evil.example".to_string()];
        assert!(origin_allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:8080"),
            &listed
        ));
        let any = vec!["*".to_string()];
        assert!(origin_allowed(&headers(Some("null"), "x"), &any));
    }

    #[test]
    fn mime_types() {
        assert_eq!(mime_for("/pkg/x_bg.wasm"), Some("application/wasm"));
        assert_eq!(mime_for("/a.mjs"), Some("text/javascript"));
        assert_eq!(mime_for("/index.html"), None);
        assert_eq!(mime_for("/"), None);
    }
}
