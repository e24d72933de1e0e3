//! `NativeClient`: one perse-core client per JS `PerseClient`. Methods take their inputs on
//! the JS thread, then run entirely on napi's tokio runtime; outcomes come back through the
//! client's completion queue (`completion.rs`).

use std::future::Future;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{CallOptions as CoreCallOptions, Client, Config, Error};

use crate::abort::NativeAbort;
use crate::completion::Hub;
use crate::encode::Done;
use crate::image_arg::ImageArg;
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

// Calls take their inputs as positional arguments on purpose (see `prepare`).
#[allow(clippy::too_many_arguments)]
#[napi]
impl NativeClient {
    /// `on_complete` receives finished calls in batches (see `completion.rs`).
    #[napi(constructor)]
    pub fn new(
        options: Option<ClientOptions>,
        #[napi(ts_arg_type = "(nums: Float64Array, strs: string[]) => void")] on_complete: Function<
            crate::completion::Args,
            (),
        >,
    ) -> Result<Self> {
        let options = options.unwrap_or_default();
        let config = Config {
            user_agent: format!("perse-node/{}", env!("CARGO_PKG_VERSION")),
            ..Config::default()
        };
        let config = options.apply(config).map_err(to_js)?;
        let client = Client::new(config).map_err(to_js)?;
        client.set_token(options.token.clone());
        client.set_private_key(options.private_key.clone());
        Ok(NativeClient {
            inner: Arc::new(client),
            hub: Hub::new(on_complete)?,
        })
    }

    /// Applies the given options on top of the current ones (token and key included).
    #[napi]
    pub fn configure(&self, options: ClientOptions) -> Result<()> {
        let config = options.apply((*self.inner.config()).clone()).map_err(to_js)?;
        self.inner.configure(config).map_err(to_js)?;
        if let Some(t) = options.token {
            self.inner.set_token(Some(t));
        }
        if let Some(k) = options.private_key {
            self.inner.set_private_key(Some(k));
        }
        Ok(())
    }

    /// Stores a session token (`null` clears it).
    #[napi]
    pub fn set_token(&self, token: Option<String>) {
        self.inner.set_token(token);
    }

    /// Whether a session token is held (the token itself never leaves native memory).
    #[napi]
    pub fn has_token(&self) -> bool {
        self.inner.has_token()
    }

    /// The base URL in use (safe to show: it carries no credentials).
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.config().base_url.clone()
    }

    /// Sets (or with `null` removes) the private key used to log in when a token is needed.
    #[napi]
    pub fn set_private_key(&self, key: Option<String>) {
        self.inner.set_private_key(key);
    }

    /// Registers (or with `null` removes) the token refresh callback.
    #[napi]
    pub fn set_token_refresh(&self, callback: Option<Function<(), Promise<RefreshOutcome>>>) -> Result<()> {
        let provider = match callback {
            Some(cb) => Some(Arc::new(JsTokenProvider::new(cb)?) as Arc<dyn perse_core::TokenProvider>),
            None => None,
        };
        self.inner.set_token_provider(provider);
        Ok(())
    }

    /// Rejects pending and later calls with `client_closed` and releases the refresh callback.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
        self.hub.release_buffers();
    }

    /// Starts the calls queued in this tick (see `Hub::flush`).
    #[napi]
    pub fn flush(&self) {
        self.hub.flush();
    }

    /// The handle `lib/decode.js` rearms the completion queue with after each delivery.
    #[napi]
    pub fn waker(&self) -> crate::completion::CompletionWaker {
        self.hub.waker()
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    // The calls below start work and return `null`; the outcome arrives later through the
    // completion callback under the given `id`. Arguments the core refuses come back at once
    // as an `ErrorInfo` (returned, not thrown), and then nothing was started.

    #[napi]
    pub fn login(
        &self,
        env: &Env,
        id: u32,
        private_key: String,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            Ok(Box::pin(async move {
                client.login(&private_key, &opts).await.map(Done::Login)
            }))
        })();
        self.start(env, id, started)
    }

    #[napi]
    pub fn detect(
        &self,
        env: &Env,
        id: u32,
        data: Option<Buffer>,
        path: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            let image = ImageArg::bytes_or_path(data, path).into_source("image", Some(&self.hub))?;
            Ok(Box::pin(
                async move { client.detect(image, &opts).await.map(Done::Detect) },
            ))
        })();
        self.start(env, id, started)
    }

    #[napi]
    pub fn compare(
        &self,
        env: &Env,
        id: u32,
        a: ImageArg,
        b: ImageArg,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            let (a, b) = (a.into_compare("a", &self.hub)?, b.into_compare("b", &self.hub)?);
            Ok(Box::pin(
                async move { client.compare(a, b, &opts).await.map(Done::Compare) },
            ))
        })();
        self.start(env, id, started)
    }

    #[napi]
    pub fn enroll(
        &self,
        env: &Env,
        id: u32,
        data: Option<Buffer>,
        path: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            let image = ImageArg::bytes_or_path(data, path).into_source("image", Some(&self.hub))?;
            Ok(Box::pin(
                async move { client.enroll(image, &opts).await.map(Done::Enroll) },
            ))
        })();
        self.start(env, id, started)
    }

    #[napi]
    pub fn list(
        &self,
        env: &Env,
        id: u32,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            Ok(Box::pin(async move { client.list(&opts).await.map(Done::List) }))
        })();
        self.start(env, id, started)
    }

    #[napi]
    pub fn update(
        &self,
        env: &Env,
        id: u32,
        user_token: String,
        data: Option<Buffer>,
        path: Option<String>,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            let image = ImageArg::bytes_or_path(data, path).into_source("image", Some(&self.hub))?;
            Ok(Box::pin(async move {
                client.update(&user_token, image, &opts).await.map(Done::Enroll)
            }))
        })();
        self.start(env, id, started)
    }

    #[napi]
    pub fn delete(
        &self,
        env: &Env,
        id: u32,
        user_token: String,
        consent: bool,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Option<ErrorInfo> {
        let started: perse_core::Result<_> = (|| {
            let (client, opts) = self.prepare(consent, options, abort)?;
            Ok(Box::pin(async move {
                client.delete(&user_token, &opts).await.map(Done::Delete)
            }))
        })();
        self.start(env, id, started)
    }

    /// Starts the call, or returns why it could not start. The future is boxed where it is
    /// made: it is several kilobytes, and each move of an unboxed one is a memcpy on the JS
    /// thread.
    fn start<F>(&self, env: &Env, id: u32, started: perse_core::Result<F>) -> Option<ErrorInfo>
    where
        F: Future<Output = perse_core::Result<Done>> + Send + 'static,
    {
        match started {
            Ok(fut) => {
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
    ) -> std::result::Result<(Arc<Client>, CoreCallOptions), Error> {
        let mut opts = options.unwrap_or_default().to_core()?;
        opts.consent |= consent;
        opts.cancel = abort.map(|a| a.token.clone());
        Ok((self.inner.clone(), opts))
    }
}

/// Sync failures (constructor, configure) throw; `index.js` wraps them as `invalid_argument`.
fn to_js(e: Error) -> napi::Error {
    napi::Error::new(Status::InvalidArg, e.to_string())
}
