//! The native half of `AbortSignal` support: `lib/transport.js` creates one per call that has a
//! signal and calls `abort()` from the signal's listener.

use napi_derive::napi;
use perse_core::CancelToken;

/// Cancels the one call it is passed to.
#[napi]
#[derive(Default)]
pub struct NativeAbort {
    pub(crate) token: CancelToken,
}

#[napi]
impl NativeAbort {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Rejects the call with `aborted` and drops its in-flight request.
    #[napi(catch_unwind)]
    pub fn abort(&self) {
        self.token.cancel();
    }
}
