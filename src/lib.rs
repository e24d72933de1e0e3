//! napi bindings for perse-core. Only conversions live here: every decision about the wire,
//! auth and retries is in `crates/perse-core`. API calls queue work and report their outcomes
//! as data through one completion queue per client (`completion.rs`, `encode.rs`); the
//! hand-written `index.js` and `lib/decode.js` settle the promises and turn failures into a
//! thrown `PerseError`, because napi-rs async rejections cannot carry a custom `code` string.
//! The less frequent async exports (local server, `prepareImage`) resolve an `ErrorInfo`.
#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so test builds see them as unused.
#![cfg_attr(test, allow(dead_code))]

mod abort;
mod client;
mod completion;
mod encode;
mod image_arg;
mod local_server;
mod options;
mod outcome;
mod prepare;
mod priority;
mod token_callback;
