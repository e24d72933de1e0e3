//! Pure Rust client for the Perse face API.
//!
//! This crate knows nothing of Node.js: the napi bindings in the parent crate only convert
//! values at the edge. Everything that decides what goes on the wire (config, auth, multipart,
//! retries, error mapping, response models) lives here so it can be unit-tested with `cargo test`.

mod auth;
mod client;
mod config;
mod error;
mod image;
mod jpeg;
mod multipart;
mod prepare;
mod retry;
mod transport;

pub mod models;

pub use auth::{jwt_expiry, TokenFuture, TokenProvider};
pub use client::{prepare_source, CallOptions, Client, CompareInput};
pub use config::{Config, DEFAULT_BASE_URL, DEFAULT_MAX_UPLOAD_BYTES};
pub use error::{Error, ErrorKind, Result, KNOWN_SERVER_CODES};
pub use image::{sniff, validate_upload, ImageFormat, ImageSource};
pub use multipart::{Multipart, MultipartBody};
pub use prepare::{prepare, PrepareMode, PrepareOptions, Prepared};
pub use retry::RetryPolicy;
pub use transport::CancelToken;
