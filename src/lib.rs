//! napi bindings for perse-core. Only conversions live here: every decision about the wire,
//! auth and retries is in `crates/perse-core`. Each call returns a Promise that resolves to
//! either its result or an `ErrorInfo` (a typed outcome): the hand-written `index.js` turns
//! the latter into a thrown `PerseError`, because napi-rs async rejections cannot carry a
//! custom `code` string.
#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so test builds see them as unused.
#![cfg_attr(test, allow(dead_code))]

mod abort;
mod client;
mod image_arg;
mod local_server;
mod options;
mod outcome;
mod prepare;
mod results;
mod token_callback;
