//! `NativeClient`: one perse-core client per JS `PerseClient`. Methods take their inputs on
//! the JS thread, then run entirely on napi's tokio runtime and resolve an `Outcome`.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{CallOptions as CoreCallOptions, Client, Config, Error};

use crate::abort::NativeAbort;
use crate::image_arg::ImageArg;
use crate::options::{CallOptions, ClientOptions};
use crate::outcome::{fail, spawn, Outcome};
use crate::results::*;
use crate::token_callback::{JsTokenProvider, RefreshOutcome};

/// The native client behind `PerseClient`. Holds no global state: each JS realm (worker
/// thread, jest module registry) creates its own.
#[napi]
pub struct NativeClient {
    inner: Arc<Client>,
}

type Call<'env, T> = Result<PromiseRaw<'env, Outcome<T>>>;

#[napi]
impl NativeClient {
    #[napi(constructor)]
    pub fn new(options: Option<ClientOptions>) -> Result<Self> {
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
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[napi(ts_return_type = "Promise<LoginResult | ErrorInfo>")]
    pub fn login<'env>(
        &self,
        env: &'env Env,
        private_key: String,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, LoginResult> {
        let (client, opts) = match self.prepare(options, abort) {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.login(&private_key, &opts).await })
    }

    #[napi(ts_return_type = "Promise<DetectResult | ErrorInfo>")]
    pub fn detect<'env>(
        &self,
        env: &'env Env,
        image: ImageArg,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, DetectResult> {
        let (client, opts, image) = match self
            .prepare(options, abort)
            .and_then(|(c, o)| Ok((c, o, image.into_source("image")?)))
        {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.detect(image, &opts).await })
    }

    #[napi(ts_return_type = "Promise<CompareResult | ErrorInfo>")]
    pub fn compare<'env>(
        &self,
        env: &'env Env,
        a: ImageArg,
        b: ImageArg,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, CompareResult> {
        let prepared = self
            .prepare(options, abort)
            .and_then(|(c, o)| Ok((c, o, a.into_compare("a")?, b.into_compare("b")?)));
        let (client, opts, a, b) = match prepared {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.compare(a, b, &opts).await })
    }

    #[napi(ts_return_type = "Promise<EnrollResult | ErrorInfo>")]
    pub fn enroll<'env>(
        &self,
        env: &'env Env,
        image: ImageArg,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, EnrollResult> {
        let (client, opts, image) = match self
            .prepare(options, abort)
            .and_then(|(c, o)| Ok((c, o, image.into_source("image")?)))
        {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.enroll(image, &opts).await })
    }

    #[napi(ts_return_type = "Promise<ListResult | ErrorInfo>")]
    pub fn list<'env>(
        &self,
        env: &'env Env,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, ListResult> {
        let (client, opts) = match self.prepare(options, abort) {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.list(&opts).await })
    }

    #[napi(ts_return_type = "Promise<EnrollResult | ErrorInfo>")]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        user_token: String,
        image: ImageArg,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, EnrollResult> {
        let (client, opts, image) = match self
            .prepare(options, abort)
            .and_then(|(c, o)| Ok((c, o, image.into_source("image")?)))
        {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.update(&user_token, image, &opts).await })
    }

    #[napi(ts_return_type = "Promise<DeleteResult | ErrorInfo>")]
    pub fn delete<'env>(
        &self,
        env: &'env Env,
        user_token: String,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> Call<'env, DeleteResult> {
        let (client, opts) = match self.prepare(options, abort) {
            Ok(v) => v,
            Err(e) => return fail(env, e),
        };
        spawn(env, async move { client.delete(&user_token, &opts).await })
    }

    fn prepare(
        &self,
        options: Option<CallOptions>,
        abort: Option<&NativeAbort>,
    ) -> std::result::Result<(Arc<Client>, CoreCallOptions), Error> {
        let mut opts = options.unwrap_or_default().to_core()?;
        opts.cancel = abort.map(|a| a.token.clone());
        Ok((self.inner.clone(), opts))
    }
}

/// Sync failures (constructor, configure) throw; `index.js` wraps them as `invalid_argument`.
fn to_js(e: Error) -> napi::Error {
    napi::Error::new(Status::InvalidArg, e.to_string())
}
