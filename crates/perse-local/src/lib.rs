//! A local Perse-compatible server: every endpoint of the contract, backed by real image
//! analysis, with test controls (fault injection, token expiry, request log).

pub mod analysis;
mod controls;
mod form;
mod jwt;
mod reply;
mod routes;
mod server;

pub use controls::{Fault, RecordedField, RecordedRequest};
pub use server::{LocalServer, LocalServerOptions, DEFAULT_LIVENESS};

#[cfg(test)]
mod fixtures_tests;
