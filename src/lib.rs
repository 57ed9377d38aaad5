//! worker-registry: a worker health registry that runs in the browser.
pub mod backoff;
pub mod clock;
pub mod frame;
pub mod json;
pub mod link;
pub mod nats;
pub mod registry;
pub mod topic;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod connection;
#[cfg(target_arch = "wasm32")]
mod socket;

#[cfg(target_arch = "wasm32")]
pub use api::{debug_counts, WorkerRegistry};
