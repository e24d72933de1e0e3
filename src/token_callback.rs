//! The `onTokenRefresh` hook: a JS callback adapted to the core's `TokenProvider` trait.
//! The threadsafe function is weak (unref'd), so a registered callback never keeps the
//! process or an ava/vitest worker alive by itself; `close()` drops it.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use perse_core::{TokenFuture, TokenProvider};

/// What the wrapper in `lib/client.js` (`wrapRefresh`) resolves with: it catches the user's callback errors and
/// checks the type, so the native side always gets data, never an exception.
#[napi(object)]
pub struct RefreshOutcome {
    /// The new session token.
    pub token: Option<String>,
    /// Why there is none (the callback's error message).
    pub error: Option<String>,
}

type RefreshFn = ThreadsafeFunction<(), Promise<RefreshOutcome>, (), Status, false, true>;

pub struct JsTokenProvider {
    tsfn: Arc<RefreshFn>,
}

impl JsTokenProvider {
    pub fn new(callback: Function<(), Promise<RefreshOutcome>>) -> Result<Self> {
        let tsfn = callback
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(JsTokenProvider { tsfn: Arc::new(tsfn) })
    }
}

impl TokenProvider for JsTokenProvider {
    fn fetch_token(&self) -> TokenFuture {
        let tsfn = self.tsfn.clone();
        Box::pin(async move {
            let promise = tsfn
                .call_async_catch(())
                .await
                .map_err(|e| format!("onTokenRefresh could not be called: {}", e.reason))?;
            // A promise that can never settle may be garbage-collected first: napi then drops
            // its resolver, which is the same failure as a timeout, said plainly.
            let outcome = promise.await.map_err(|e| match e.reason.contains("canceled") {
                true => "onTokenRefresh returned a promise that was garbage-collected before it settled".to_string(),
                false => e.reason.clone(),
            })?;
            match outcome {
                RefreshOutcome { token: Some(t), .. } => Ok(t),
                RefreshOutcome { error: Some(e), .. } => Err(e),
                _ => Err("onTokenRefresh returned no token".into()),
            }
        })
    }
}
