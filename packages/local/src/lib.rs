//! napi bindings of `perse-node-local`: the local Perse-compatible server (`crates/perse-local`,
//! with the face engine of `crates/perse-engine`), kept out of the `perse-node` client addon so
//! that the client package stays small. `perse-node`'s `startLocalServer` loads this addon.
//!
//! It reports failures and declares its options as the client addon does, with the code both
//! share in `crates/perse-napi-edge`.
#![deny(clippy::all)]
#![cfg_attr(test, allow(dead_code))]

mod server;
