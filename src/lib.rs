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

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
