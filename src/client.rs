//! `NativeClient`: one perse-core client per JS `PerseClient`. Methods take their inputs on
//! the JS thread (copying image bytes, see `image_arg.rs`), then run entirely on napi's tokio
//! runtime; outcomes come back through the client's completion queue (`completion.rs`).
//! Nothing here throws for a refused input: setters and call starts return an `ErrorInfo`,
//! which `index.js` throws as a `PerseError`. Every export catches panics.

use std::future::Future;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{CallOptions as CoreCallOptions, Client, CompareInput, Config, PrepareOptions};

use crate::abort::NativeAbort;
use crate::completion::Hub;
use crate::encode::Done;
use crate::image_arg::image_source;
use crate::options::{CallOptions, ClientOptions};
use crate::outcome::ErrorInfo;
use crate::token_callback::{JsTokenProvider, RefreshOutcome};

/// The native client behind `PerseClient`. Holds no global state: each JS realm (worker
/// thread, jest module registry) creates its own.
#[napi]
pub struct NativeClient {
    inner: Arc<Client>,
    hub: Arc<Hub>,
}

/// What every call start needs: the client, the core call options, and the image budget.
struct Started {
    client: Arc<Client>,
    opts: CoreCallOptions,
    prep: PrepareOptions,
}

// Calls take their inputs as positional arguments on purpose (see `prepare`).
#[allow(clippy::too_many_arguments)]
#[napi]
impl NativeClient {
    /// A client with the default configuration; `configure` applies the caller's options.
    /// `on_complete` receives finished calls in batches (see `completion.rs`).
    #[napi(constructor, catch_unwind)]
    pub fn new(
        #[napi(ts_arg_type = "(nums: Float64Array, strs: string[]) => void")] on_complete: Function<
            crate::completion::Args,
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
    }

    /// Starts the calls queued in this tick (see `Hub::flush`).
    #[napi(catch_unwind)]
    pub fn flush(&self) {
        self.hub.flush();
    }

    /// The handle `lib/decode.js` rearms the completion queue with after each delivery.
    #[napi(catch_unwind)]
    pub fn waker(&self) -> crate::completion::CompletionWaker {
        self.hub.waker()
    }

    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    // The calls below start work and return `null`; the outcome arrives later through the
    // completion callback under the given `id`. Arguments the core refuses come back at once
    // as an `ErrorInfo` (returned, not thrown), and then nothing was started.

    #[napi(catch_unwind)]
    pub fn login(
        &self,
        env: &Env,
        id: u32,
        private_key: String,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            Ok(async move { s.client.login(&private_key, &s.opts).await.map(Done::Login) })
        })
    }

    #[napi(catch_unwind)]
    pub fn detect(
        &self,
        env: &Env,
        id: u32,
        data: Option<Unknown<'_>>,
        path: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            let image = image_source(data, path, &s.prep)?;
            Ok(async move { s.client.detect(image, &s.opts).await.map(Done::Detect) })
        })
    }

    #[napi(catch_unwind)]
    pub fn compare(
        &self,
        env: &Env,
        id: u32,
        a_data: Option<Unknown<'_>>,
        a_path: Option<String>,
        a_token: Option<String>,
        b_data: Option<Unknown<'_>>,
        b_path: Option<String>,
        b_token: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            let side = |data, path, token| match token {
                Some(t) => Ok(CompareInput::UserToken(t)),
                None => image_source(data, path, &s.prep).map(CompareInput::Image),
            };
            let (a, b) = (side(a_data, a_path, a_token)?, side(b_data, b_path, b_token)?);
            Ok(async move { s.client.compare(a, b, &s.opts).await.map(Done::Compare) })
        })
    }

    #[napi(catch_unwind)]
    pub fn enroll(
        &self,
        env: &Env,
        id: u32,
        data: Option<Unknown<'_>>,
        path: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            let image = image_source(data, path, &s.prep)?;
            Ok(async move { s.client.enroll(image, &s.opts).await.map(Done::Enroll) })
        })
    }

    #[napi(catch_unwind)]
    pub fn list(
        &self,
        env: &Env,
        id: u32,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            Ok(async move { s.client.list(&s.opts).await.map(Done::List) })
        })
    }

    #[napi(catch_unwind)]
    pub fn update(
        &self,
        env: &Env,
        id: u32,
        user_token: String,
        data: Option<Unknown<'_>>,
        path: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            let image = image_source(data, path, &s.prep)?;
            Ok(async move { s.client.update(&user_token, image, &s.opts).await.map(Done::Enroll) })
        })
    }

    #[napi(catch_unwind)]
    pub fn delete(
        &self,
        env: &Env,
        id: u32,
        user_token: String,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        self.launch(env, id, consent, options, abort, |s| {
            Ok(async move { s.client.delete(&user_token, &s.opts).await.map(Done::Delete) })
        })
    }

    /// Reads the call's inputs with `make` (on the JS thread) and starts the future it
    /// returns, or returns why it could not start. The future is boxed where it is made: it
    /// is several kilobytes, and each move of an unboxed one is a memcpy on the JS thread.
    fn launch<F, Fut>(
        &self,
        env: &Env,
        id: u32,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
        make: F,
    ) -> Option<ErrorInfo>
    where
        F: FnOnce(Started) -> perse_core::Result<Fut>,
        Fut: Future<Output = perse_core::Result<Done>> + Send + 'static,
    {
        let started = self.prepare(consent, options, abort).and_then(make);
        match started {
            Ok(fut) => {
                let fut = Box::pin(fut);
                self.hub
                    .start(env, id, async move { fut.await.unwrap_or_else(Done::Failed) });
                None
            }
            Err(e) => Some(e.into()),
        }
    }

    /// `consent` comes as its own argument, and `options` only when some other option is set:
    /// each property read through napi costs a key lookup on the JS thread.
    fn prepare(
        &self,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> perse_core::Result<Started> {
        let mut opts = options.unwrap_or_default().to_core()?;
        opts.consent |= consent;
        opts.cancel = abort.map(|a| a.token.clone());
        let mut prep = self.inner.config().prepare;
        if let Some(mode) = opts.prepare {
            prep.mode = mode;
        }
        Ok(Started {
            client: self.inner.clone(),
            opts,
            prep,
        })
    }
}

/// `None` when it worked, the reason when it did not.
fn refused(r: perse_core::Result<()>) -> Option<ErrorInfo> {
    r.err().map(ErrorInfo::from)
}
