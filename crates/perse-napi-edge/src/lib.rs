//! What both napi addons (`perse-node` at the repository root and `perse-node-local` in
//! `packages/local`) share at the JS edge, so that both report failures and describe their
//! options the same way:
//!
//! - failures as data ([`ErrorInfo`], [`spawn`], [`fail`], [`refused`], [`panic_error`]): see
//!   `error.rs` (in the client's completion batch a failure is perse-core's `Failure`, encoded
//!   like every result by `layout.rs`);
//! - options objects: [`js_options!`] (from `crates/perse-options`) declares each one with its
//!   keys, doc lines and ranges, and [`spec_list`] hands its keys to `lib/args.js`.
//!
//! Its `#[napi(object)]` types reach each addon's `binding.d.ts`: napi-rs collects the type
//! definitions of every crate of the build that uses napi-derive.
#![deny(clippy::all)]

mod error;

pub use error::{fail, panic_error, refused, spawn, ErrorInfo, Outcome};
pub use perse_options::js_options;

/// The `[key, typeof]` pairs of a `js_options!` key list, as `optionSpecs()` returns them to
/// `lib/args.js`.
pub fn spec_list(keys: &[(&str, &str)]) -> Vec<Vec<String>> {
    keys.iter().map(|(k, t)| vec![k.to_string(), t.to_string()]).collect()
}
