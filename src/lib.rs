//! worker-registry: a worker health registry that runs in the browser.
//!
//! It keeps the freshest heartbeat of every allowlisted worker, fed by a bus
//! WebSocket (the JSON gateway protocol, or NATS straight to `nats-server`),
//! and hands a Workers panel `snapshot()` rows that are `ok`, `stale` or
//! `unknown`. The contract is in `docs/contract.md`; the JS API is `WorkerRegistry`.
//!
//! # Layout
//!
//! A pure core, tested natively with `cargo test`:
//!
//! * [`topic`]: bus token rules, NATS wildcard matching, `system.<name>.health`.
//! * [`json`]: a validating JSON scanner (no tree, no allocation) and number parsing.
//! * [`frame`]: one frame through the ten acceptance rules, each refusal named.
//! * [`registry`]: the allowlist, the freshest beat per worker, liveness, rows, stats.
//! * [`history`]: each worker's last beats in a ring allocated once, and their cadence.
//! * [`clock`]: the monotonic and wall clock readings, injected.
//! * [`backoff`]: reconnect delays, exponential with full jitter.
//! * [`link`]: a connection's bookkeeping (state, attempts, errors), the gateway's frames.
//! * [`nats`]: an incremental NATS protocol parser, and the client's handshake.
//! * [`session`]: the connection as a state machine: events in, actions out, named timers.
//!
//! A thin browser shell, compiled for wasm32 only. Dependencies point one
//! way, `api` -> `connection` -> `host` -> the core, and no `RefCell` borrow
//! is held across a call into JS that can run user code:
//!
//! * `api`: the only `#[wasm_bindgen]` surface, `WorkerRegistry`, and its TypeScript types.
//! * `options`: options in (their JS types checked by `host.js`, read as typed values), `stats()`, `connection()` and `history()` out.
//! * `connection`: executes the session's actions: sockets, timers, the token provider.
//! * `host`: the Rust face of `host.js`, the JS half that copies frames in and builds rows.
//! * `socket`: the only module touching `WebSocket`, event closures and timers.
pub mod backoff;
pub mod clock;
pub mod frame;
pub mod history;
pub mod json;
pub mod link;
pub mod nats;
pub mod registry;
pub mod session;
pub mod topic;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod connection;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod socket;

#[cfg(target_arch = "wasm32")]
pub use api::{debug_counts, WorkerRegistry};

// A free-list allocator of about 1 KB instead of dlmalloc's 7: the registry
// allocates its buffers once and little afterwards, and the page is single
// threaded. Saves 3.1 KB of the gzipped wasm.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without atomics runs one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
