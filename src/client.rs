//! `NativeClient`: one perse-core client per JS `PerseClient`. Methods take their inputs on
//! the JS thread (copying image bytes, see `image_arg.rs`), then run entirely on napi's tokio
//! runtime; outcomes come back through the client's completion queue (`queue/`).
//! Nothing here throws for a refused input: setters and call starts return an `ErrorInfo`,
//! which `lib/errors.js` throws as a `PerseError`. Every export catches panics.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{Client, Config};
use perse_napi_edge::{refused, ErrorInfo};

use crate::abort::NativeAbort;
use crate::byte_pool::BytePool;
use crate::calls::Started;
use crate::options::{CallOptions, ClientOptions};
use crate::queue::Hub;
use crate::token_callback::{JsTokenProvider, RefreshOutcome};

/// The native client behind `PerseClient`. Holds no global state: each JS realm (worker
/// thread, jest module registry) creates its own.
#[napi]
pub struct NativeClient {
    inner: Arc<Client>,
    hub: Arc<Hub>,
    /// Buffers for the copies of image bytes: the process's pool (see `byte_pool.rs`).
    pool: Arc<BytePool>,
}

/// See `NativeClient::read_limits`.
#[napi(object)]
pub struct ReadLimits {
    /// Bytes at most.
    pub budget: f64,
    pub timeout_ms: f64,
}

#[napi]
impl NativeClient {
    /// A client with the default configuration; `configure` applies the caller's options.
    /// `on_complete` receives finished calls in batches (see `queue/mod.rs`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        #[napi(ts_arg_type = "(nums: Float64Array, strs: string[]) => void")] on_complete: Function<
            crate::queue::Args,
            (),
        >,
    ) -> Result<Self> {
        let config = Config {
            user_agent: format!("perse-node/{}", env!("CARGO_PKG_VERSION")),
            ..Config::default()
        };
        let client = Client::new(config).map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        Ok(NativeClient {
            inner: Arc::new(client),
            hub: Hub::new(on_complete)?,
            pool: crate::byte_pool::shared(),
        })
    }

    /// Applies the given options on top of the current ones (token and key included).
    #[napi(catch_unwind)]
    pub fn configure(&self, options: ClientOptions) -> Option<ErrorInfo> {
        refused((|| {
            let config = options.apply((*self.inner.config()).clone())?;
            // Checked before anything changes: a refused token leaves the client as it was.
            if let Some(t) = &options.token {
                perse_core::check_token(t)
                    .map_err(|why| perse_core::Error::invalid(format!("token is not usable: {why}")))?;
            }
            self.inner.configure(config)?;
            if let Some(t) = options.token {
                self.inner.set_token(Some(t))?;
            }
            if let Some(k) = options.private_key {
                self.inner.set_private_key(Some(k))?;
            }
            Ok(())
        })())
    }

    /// Stores a session token (`null` clears it).
    #[napi(catch_unwind)]
    pub fn set_token(&self, token: Option<String>) -> Option<ErrorInfo> {
        refused(self.inner.set_token(token))
    }

    /// Whether a session token is held (the token itself never leaves native memory).
    #[napi(catch_unwind)]
    pub fn has_token(&self) -> bool {
        self.inner.has_token()
    }

    /// How much an input read in JS (a Blob, a stream) may have, and for how long it may be
    /// read, for a call with these `prepare` and `timeoutMs` options (`lib/inputs.js`).
    #[napi(catch_unwind)]
    pub fn read_limits(&self, options: Option<CallOptions>) -> Either<ReadLimits, ErrorInfo> {
        let opts = match options.unwrap_or_default().to_core() {
            Ok(o) => o,
            Err(e) => return Either::B(e.into()),
        };
        let cfg = self.inner.config();
        let mut prep = cfg.prepare;
        if let Some(mode) = opts.prepare {
            prep.mode = mode;
        }
        Either::A(ReadLimits {
            budget: prep.input_budget() as f64,
            timeout_ms: opts.timeout.unwrap_or(cfg.timeout).as_millis() as f64,
        })
    }

    /// The base URL in use (safe to show: it carries no credentials).
    #[napi(getter, catch_unwind)]
    pub fn base_url(&self) -> String {
        self.inner.config().base_url.clone()
    }

    /// Registers (or with `null` removes) the token refresh callback.
    #[napi(catch_unwind)]
    pub fn set_token_refresh(
        &self,
        callback: Option<Function<(), Promise<RefreshOutcome>>>,
    ) -> Result<Option<ErrorInfo>> {
        let provider = match callback {
            Some(cb) => Some(Arc::new(JsTokenProvider::new(cb)?) as Arc<dyn perse_core::TokenProvider>),
            None => None,
        };
        Ok(refused(self.inner.set_token_provider(provider)))
    }

    /// Rejects pending and later calls with `client_closed` and releases the refresh callback.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.inner.close();
        self.hub.shutdown();
    }

    /// Starts the calls queued in this tick (see `Hub::flush`).
    #[napi(catch_unwind)]
    pub fn flush(&self) {
        self.hub.flush();
    }

    /// The handle `lib/decode.js` rearms the completion queue with after each delivery.
    #[napi(catch_unwind)]
    pub fn waker(&self) -> crate::queue::CompletionWaker {
        self.hub.waker()
    }

    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Starts an API call (see `calls.rs`) and returns `null`; its outcome arrives later
    /// through the completion callback under `id`. Arguments the core refuses come back at once
    /// as an `ErrorInfo` (returned, not thrown), and then nothing was started. `trace` keeps
    /// each attempt's facts for the result's `trace` (docs/observability.md). `consent` comes
    /// as its own argument, and `options` only when some other option is set: each property
    /// read through napi costs a key lookup on the JS thread.
    #[napi(catch_unwind)]
    #[allow(clippy::too_many_arguments)] // positional on purpose: an object costs a lookup per key
    pub fn start(
        &self,
        env: &Env,
        id: u32,
        call: u32,
        consent: bool,
        trace: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
        a: Option<Unknown<'_>>,
        b: Option<Unknown<'_>>,
        c: Option<Unknown<'_>>,
        d: Option<Unknown<'_>>,
    ) -> Option<ErrorInfo> {
        match self
            .prepare(consent, trace, options, abort)
            .and_then(|s| Ok((s.opts.log.clone(), crate::calls::make(call, s, [a, b, c, d])?)))
        {
            Ok((log, fut)) => {
                self.hub.launch(env, id, log, fut);
                None
            }
            Err(e) => Some(e.into()),
        }
    }

    fn prepare(
        &self,
        consent: bool,
        trace: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> perse_core::Result<Started> {
        if self.inner.is_closed() {
            return Err(perse_core::ErrorKind::ClientClosed.into());
        }
        let mut opts = options.unwrap_or_default().to_core()?;
        opts.consent |= consent;
        if trace {
            opts.log = Arc::new(perse_core::CallLog::new(true));
        }
        opts.cancel = abort.map(|a| a.token.clone());
        let mut prep = self.inner.config().prepare;
        if let Some(mode) = opts.prepare {
            prep.mode = mode;
        }
        Ok(Started {
            client: self.inner.clone(),
            opts,
            prep,
            pool: self.pool.clone(),
        })
    }
}

/// `url` as a base URL under the client's rules (https, or plain http only on loopback or
/// with `allowInsecureHttp`), normalised, or why it is refused. `controlLocalServer` checks
/// its URL with it, so the local server's controls never send a key where a client would not.
#[napi(catch_unwind)]
pub fn normalize_base_url(url: String, allow_insecure_http: bool) -> Either<String, ErrorInfo> {
    match perse_core::normalize_base_url(&url, allow_insecure_http) {
        Ok(u) => Either::A(u),
        Err(e) => Either::B(e.into()),
    }
}
