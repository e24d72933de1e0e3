//! A local Perse-compatible server: every endpoint of the contract, backed by real image
//! analysis, with test controls (fault injection, token expiry, request log).

mod accept;
pub mod analysis;
mod cache;
mod control_routes;
mod controls;
mod form;
mod handlers;
mod jwt;
mod reply;
mod routes;
mod server;
mod state;
pub mod store;
mod timing;

pub use controls::{
    Fault, FaultSpec, RecordedField, RecordedRequest, FAULT_KEYS, MAX_LOG, MAX_LOG_BYTES, MAX_RECORDED_FIELDS,
};
// For `fault_spec!` (perse-node-local declares its napi `FaultSpec` with it).
#[doc(hidden)]
pub use perse_options::js_options as __js_options;
pub use server::{LocalServer, LocalServerOptions, DEFAULT_HEADER_TIMEOUT, DEFAULT_LIVENESS, DEFAULT_MAX_CONNECTIONS};
// The server's policy, for `examples/eval` (`npm run eval:engine`), which measures exactly it.
pub use handlers::{THRESHOLD_OVEREXPOSURE, THRESHOLD_SHARPNESS, THRESHOLD_SIMILARITY, THRESHOLD_UNDEREXPOSURE};
pub use server::default_weights_dir;

#[cfg(test)]
mod fixtures_tests;
