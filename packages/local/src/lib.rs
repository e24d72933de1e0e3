//! napi bindings of `perse-node-local`: the local Perse-compatible server (`crates/perse-local`,
//! with the face engine of `crates/perse-engine`), kept out of the `perse-node` client addon so
//! that the client package stays small. `perse-node`'s `startLocalServer` loads this addon.
//!
//! Two files are shared with the client addon through `#[path]`, so that both report failures
//! and describe their options the same way: `error.rs` (failures as data, see its docs) and
//! `js_options.rs` (options structs with their JS keys).
#![deny(clippy::all)]
#![cfg_attr(test, allow(dead_code))]

#[path = "../../../src/error.rs"]
#[allow(dead_code)] // `encode` serves the client addon's completion queue only
mod error;
#[path = "../../../src/js_options.rs"]
mod js_options;
mod server;
