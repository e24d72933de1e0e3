//! Pure Rust client for the Perse face API.
//!
//! This crate knows nothing of Node.js: the napi bindings in the parent crate only convert
//! values at the edge. Everything that decides what goes on the wire (config, auth, multipart,
//! retries, error mapping, response models) lives here so it can be tested with `cargo test`,
//! the network included: [`Client::with_transport`] takes a scripted [`Transport`].

mod auth;
mod calls;
mod cancel;
mod client;
mod config;
mod endpoints;
mod error;
mod executor;
mod headers;
mod image;
mod jpeg;
mod multipart;
mod prepare;
mod retry;
mod transport;

pub mod layout;
pub mod models;
pub mod results;

pub use auth::{check_token, jwt_expiry, TokenFuture, TokenProvider, HELD_SECRETS, MAX_TOKEN_BYTES};
pub use calls::{Arg, ArgKind, CallSpec};
pub use cancel::CancelToken;
pub use client::{CallLog, CallOptions, Client, CompareInput};
pub use config::{normalize_base_url, Config, DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES, MAX_ERROR_BODY_BYTES};
pub use endpoints::CALLS;
pub use error::{
    is_server_code, one_line, Code, CodeInfo, Error, ErrorKind, Group, Result, CODES, MAX_MESSAGE_CHARS, UNION_DOCS,
};
pub use headers::{check_headers, Headers, MAX_HEADERS, MAX_HEADERS_BYTES, MAX_HEADER_VALUE_BYTES, REFUSED_HEADERS};
pub use image::{sniff, validate_upload, ImageFormat, ImageSource};
pub use models::CallResult;
pub use multipart::{Multipart, MultipartBody};
pub use prepare::{
    check_input_size, decode_shrunk, plan, prepare, prepare_source, DecodeJob, Plan, PrepareMode, PrepareOptions,
    Prepared, Source, Upload, DECODE_BUDGET_BYTES, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_UPLOAD_BYTES,
};
pub use results::{Failure, Uploaded};
pub use retry::RetryPolicy;
pub use transport::{Attempt, AttemptFuture, Body, Exchange, HttpTransport, Limits, Request, Transport};
