//! Every failure on its way to JS, in one place. A refused input or a failed call reaches JS
//! as data, never as a napi throw, because napi-rs async rejections cannot carry a custom
//! `code`: an [`ErrorInfo`] object (returned by setters and call starts, resolved by the
//! promise-returning exports) or the same fields in a completion batch (perse-core's
//! `Failure`, see the client addon's `src/queue/batch.rs`).
//! `lib/errors.js` alone turns either into a `PerseError`. A napi throw means a bug: a caught
//! panic, or a value napi could not convert.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A failed call, returned or resolved instead of thrown; `lib/errors.js` throws it as a `PerseError`.
#[napi(object)]
pub struct ErrorInfo {
    /// Always `false`: distinguishes an error from a result (`status: true`).
    pub status: bool,
    /// Stable machine-readable code, e.g. `unauthorized`, `timeout`, `no_face_detected`.
    pub code: String,
    /// Human-readable explanation, one line. Never contains a token or private key.
    pub message: String,
    /// The HTTP status when a response came back.
    pub http_status: Option<u32>,
    /// Whether the same call may succeed if repeated later.
    pub retryable: bool,
    /// HTTP attempts made (0 when nothing was sent).
    pub attempts: u32,
    /// For `token_refresh_failed`: the refresh callback's own message.
    pub cause: Option<String>,
}

impl From<perse_core::Error> for ErrorInfo {
    fn from(e: perse_core::Error) -> Self {
        ErrorInfo {
            status: false,
            code: e.code().to_string(),
            message: e.to_string(),
            http_status: e.http_status().map(u32::from),
            retryable: e.retryable,
            attempts: e.attempts,
            cause: e.cause().map(str::to_string),
        }
    }
}

/// `None` when it worked, the reason when it did not (for setters).
pub fn refused(r: perse_core::Result<()>) -> Option<ErrorInfo> {
    r.err().map(ErrorInfo::from)
}

/// A result or the reason there is none.
pub type Outcome<T> = Either<T, ErrorInfo>;

/// Runs `fut` on napi's tokio runtime and resolves the returned Promise with an [`Outcome`];
/// a panic inside the future becomes an `internal_error` outcome.
pub fn spawn<'env, T, R, F>(env: &'env Env, fut: F) -> Result<PromiseRaw<'env, Outcome<R>>>
where
    T: Send + 'static,
    R: From<T> + ToNapiValue + Send + 'static,
    F: Future<Output = perse_core::Result<T>> + Send + 'static,
{
    env.spawn_future(async move {
        Ok(match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(Ok(v)) => Either::A(R::from(v)),
            Ok(Err(e)) => Either::B(ErrorInfo::from(e)),
            Err(panic) => Either::B(ErrorInfo::from(panic_error(&*panic))),
        })
    })
}

/// An outcome that is already known (bad arguments), still delivered as a Promise.
pub fn fail<'env, R>(env: &'env Env, e: perse_core::Error) -> Result<PromiseRaw<'env, Outcome<R>>>
where
    R: ToNapiValue + Send + 'static,
{
    env.spawn_future(async move { Ok(Either::<R, ErrorInfo>::B(ErrorInfo::from(e))) })
}

/// A caught panic as an `internal_error`.
pub fn panic_error(p: &(dyn std::any::Any + Send)) -> perse_core::Error {
    let text = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    perse_core::Error::from(perse_core::ErrorKind::Internal(format!(
        "a bug in perse-node was caught ({text}); please report it"
    )))
}
