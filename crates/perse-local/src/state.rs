//! The state one local server's handlers share: its engine, tokens, store, faults and
//! request log. `server.rs` creates it; the routes and handlers read it.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use crate::analysis::Engine;
use crate::controls::{Fault, Log};
use crate::jwt::Issuer;
use crate::store::Store;

/// What every request of one server reads and changes.
pub struct State {
    pub engine: std::sync::Arc<Engine>,
    pub issuer: Issuer,
    pub private_key: String,
    pub token_ttl: Duration,
    pub liveness: f64,
    /// See [`LocalServerOptions::no_face_error`](crate::LocalServerOptions::no_face_error).
    pub no_face_error: bool,
    /// See [`LocalServerOptions::log_requests`](crate::LocalServerOptions::log_requests).
    pub log_requests: bool,
    pub generation: AtomicU64,
    pub store: Mutex<Store>,
    pub faults: Mutex<Vec<Fault>>,
    pub log: Mutex<Log>,
    /// Analyses running at once are capped at the core count: more would only queue in the
    /// blocking pool, each on its own thread and allocator arena.
    pub analysis_slots: tokio::sync::Semaphore,
    /// The memory of the analyses in progress, in KiB (see `analysis::MEMORY_BUDGET_BYTES`).
    pub memory_budget: tokio::sync::Semaphore,
    /// Analyses by upload (`None`: turned off).
    pub cache: Option<crate::cache::Cache>,
}

/// Forgets enrollments, faults and the request log (issued tokens stay valid).
pub fn reset(state: &State) {
    // A store that cannot be written keeps its users; the next write reports the failure.
    let _ = lock(&state.store).clear();
    lock(&state.faults).clear();
    lock(&state.log).clear();
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
