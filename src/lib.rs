//! napi bindings for perse-core: conversions at the edge, one concept per file. Every
//! decision about the wire, auth and retries is in `crates/perse-core`. API calls start
//! through the completion queue (`queue/`), failures reach JS as data (`ErrorInfo` and the
//! batch encoding, shared with perse-node-local in `crates/perse-napi-edge`), and
//! ARCHITECTURE.md walks the path of one call.
#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so test builds see them as unused.
#![cfg_attr(test, allow(dead_code))]

mod abort;
mod byte_pool;
mod calls;
mod client;
mod image_arg;
mod options;
mod prepare;
mod priority;
mod queue;
mod token_callback;
