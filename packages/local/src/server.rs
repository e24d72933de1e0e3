//! `startLocalServer`: the local Perse-compatible server from `crates/perse-local`, run on
//! napi's tokio runtime, with its test controls. `perse-node`'s `lib/local-server.js` wraps it.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::Error;

use crate::error::{fail, refused, spawn, ErrorInfo, Outcome};

crate::js_options::js_options! {
    #[doc = "How to start the local server."]
    pub struct LocalServerOptions [LOCAL_SERVER_KEYS] {
        #[doc = "TCP port (0 to 65535); 0 (the default) picks a free one."]
        "port" port: Option<f64>,
        #[doc = "Interface to bind; default `127.0.0.1`. Anything else must be asked for explicitly."]
        "host" host: Option<String>,
        #[doc = "The private key `/login` accepts; default a random `sk_local_...`."]
        "privateKey" private_key: Option<String>,
        #[doc = "Lifetime of issued session tokens in seconds (1 to 31536000); default 900 (15 minutes, as the API)."]
        "tokenTtlSeconds" token_ttl_seconds: Option<f64>,
        #[doc = "The `livenessScore` reported for every face (0 to 1); default 0.9 (there is no liveness model)."]
        "livenessScore" liveness_score: Option<f64>,
        #[doc = "A connection must send its request headers within this many milliseconds (1 to 3600000;"]
        #[doc = "idle keep-alive connections are closed after it too); default 30000."]
        "headerTimeoutMs" header_timeout_ms: Option<f64>,
        #[doc = "Connections served at once (1 to 100000); more wait until one closes. Default 512."]
        "maxConnections" max_connections: Option<f64>,
        #[doc = "Keep enrollments in `<dataDir>/enrollments.redb`, so that they survive a restart (one server per folder). Default: in memory, forgotten on close."]
        "dataDir" data_dir: Option<String>,
        #[doc = "Answer a detect that finds no face with 422 `no_face_detected`, as the hosted API may, instead of `totalFaces: 0`. Default false."]
        "noFaceError" no_face_error: Option<bool>,
    }
}

crate::js_options::js_options! {
    #[doc = "An answer to give instead of the real one, for the next `times` matching requests."]
    pub struct FaultSpec [FAULT_KEYS] {
        #[doc = "Path with or without `/v0` (e.g. `/face/detect`); default: any path."]
        "path" path: Option<String>,
        #[doc = "HTTP status to answer with (100 to 599); without it the fault only delays."]
        "status" status: Option<f64>,
        #[doc = "Error code in the JSON body; default derived from the status."]
        "code" code: Option<String>,
        #[doc = "Raw body instead of the JSON error (HTML, truncated JSON...)."]
        "body" body: Option<String>,
        #[doc = "Wait this many milliseconds first (0 to 600000)."]
        "delayMs" delay_ms: Option<f64>,
        #[doc = "How many requests it applies to (1 to 1000000000; with `reachCaller`, how many calls); default 1."]
        "times" times: Option<f64>,
        #[doc = "Answer every attempt of the next call (its retries and its refresh after a 401 too), so that the call itself fails with this answer. Default false."]
        "reachCaller" reach_caller: Option<bool>,
    }
}

/// One multipart field as the server saw it (no image bytes).
#[napi(object)]
pub struct RecordedField {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size: u32,
    /// Text value, for non-file fields only.
    pub value: Option<String>,
}

/// One request as the server saw it.
#[napi(object)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub fields: Vec<RecordedField>,
    /// Whether an Authorization header was present (its value is never kept).
    pub has_authorization: bool,
    pub status: u32,
    /// Whether an injected fault produced the answer.
    pub faulted: bool,
}

/// A running local server.
#[napi]
pub struct NativeLocalServer {
    inner: Arc<perse_local::LocalServer>,
    keep: Keep,
}

/// What keeps a listening server alive when its JS object is garbage-collected, as a Node
/// `http.Server` stays alive: a strong reference held by a cleanup hook of the JS environment
/// (the main thread or a worker) that started it, until `close()` takes it back. When that
/// environment ends (the process exits, the worker terminates), the hook stops the server.
/// It never holds the event loop open: a server alone does not keep a process alive.
#[derive(Default)]
struct Keeper {
    server: Option<Arc<perse_local::LocalServer>>,
    /// The environment has ended: a server that finishes starting now is stopped at once.
    gone: bool,
}

type Keep = Arc<std::sync::Mutex<Keeper>>;

fn lock(k: &Keep) -> std::sync::MutexGuard<'_, Keeper> {
    k.lock().unwrap_or_else(|p| p.into_inner())
}

/// A started server and its keeper, on the way to JS.
pub struct Started(Arc<perse_local::LocalServer>, Keep);

impl From<Started> for NativeLocalServer {
    fn from(Started(inner, keep): Started) -> Self {
        NativeLocalServer { inner, keep }
    }
}

#[napi]
impl NativeLocalServer {
    /// Base URL to pass as `baseUrl` as it is (ends in `/v0`).
    #[napi(getter, catch_unwind)]
    pub fn url(&self) -> String {
        self.inner.url()
    }

    #[napi(getter, catch_unwind)]
    pub fn port(&self) -> u32 {
        u32::from(self.inner.port())
    }

    /// The private key this server's `/login` accepts.
    #[napi(getter, catch_unwind)]
    pub fn private_key(&self) -> String {
        self.inner.private_key().to_string()
    }

    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Queues an injected answer; returns why the fault was refused, if it was.
    #[napi(catch_unwind)]
    pub fn inject_fault(&self, fault: FaultSpec) -> Option<ErrorInfo> {
        refused(self.inner.inject(fault.into()))
    }

    /// Every token issued so far stops working (the next call gets 401 `unauthorized`).
    #[napi(catch_unwind)]
    pub fn expire_tokens(&self) {
        self.inner.expire_tokens();
    }

    /// The requests seen so far, oldest first.
    #[napi(catch_unwind)]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.requests().into_iter().map(RecordedRequest::from).collect()
    }

    /// Forgets enrollments, faults and the request log.
    #[napi(catch_unwind)]
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// Stops the server; resolves when it has stopped.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        lock(&self.keep).server = None;
        let inner = self.inner.clone();
        env.spawn_future(async move {
            inner.close().await;
            Ok(())
        })
    }
}

/// Starts a local Perse-compatible server on loopback, with the face engine's weights from
/// `weights_dir` (the package's `weights/`, passed by its `index.js`).
#[napi(ts_return_type = "Promise<NativeLocalServer | ErrorInfo>", catch_unwind)]
pub fn start_local_server(
    env: &Env,
    weights_dir: String,
    options: Option<LocalServerOptions>,
) -> Result<PromiseRaw<'_, Outcome<NativeLocalServer>>> {
    let o = options.unwrap_or_default();
    let mut opts = match convert(o) {
        Ok(opts) => opts,
        Err(e) => return fail(env, e),
    };
    opts.weights_dir = weights_dir.into();
    let keep = Keep::default();
    env.add_env_cleanup_hook(keep.clone(), |keep| {
        let mut k = lock(&keep);
        k.gone = true;
        if let Some(s) = k.server.take() {
            s.shutdown();
        }
    })?;
    // Loading the weights and opening the store read files: off the JS thread.
    spawn(env, async move {
        let server = Arc::new(perse_local::LocalServer::start(opts).await?);
        let mut k = lock(&keep);
        match k.gone {
            true => server.shutdown(),
            false => k.server = Some(server.clone()),
        }
        drop(k);
        Ok(Started(server, keep))
    })
}

/// Each options object's JS keys with their `typeof`, for `perse-node`'s `lib/args.js`.
#[napi(object)]
pub struct OptionSpecs {
    pub local_server: Vec<Vec<String>>,
    pub fault: Vec<Vec<String>>,
}

/// The keys and types of the options objects of this addon (see `js_options!`).
#[napi(catch_unwind)]
pub fn option_specs() -> OptionSpecs {
    let list = |keys: &[(&str, &str)]| keys.iter().map(|(k, t)| vec![k.to_string(), t.to_string()]).collect();
    OptionSpecs {
        local_server: list(LOCAL_SERVER_KEYS),
        fault: list(FAULT_KEYS),
    }
}

fn convert(o: LocalServerOptions) -> std::result::Result<perse_local::LocalServerOptions, Error> {
    let mut opts = perse_local::LocalServerOptions::default();
    if let Some(p) = o.port {
        opts.port = int(p, 0.0, 65535.0, "options.port must be an integer between 0 and 65535")? as u16;
    }
    if let Some(h) = o.host {
        opts.host = h;
    }
    opts.private_key = o.private_key;
    if let Some(t) = o.token_ttl_seconds {
        if !t.is_finite() || !(1.0..=86_400.0 * 365.0).contains(&t) {
            return Err(Error::invalid("tokenTtlSeconds must be between 1 and 31536000"));
        }
        opts.token_ttl = Duration::from_secs(t as u64);
    }
    if let Some(l) = o.liveness_score {
        opts.liveness_score = l;
    }
    if let Some(ms) = o.header_timeout_ms {
        if !ms.is_finite() || !(1.0..=3_600_000.0).contains(&ms) {
            return Err(Error::invalid("headerTimeoutMs must be between 1 and 3600000"));
        }
        opts.header_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(n) = o.max_connections {
        if !n.is_finite() || n.fract() != 0.0 || !(1.0..=100_000.0).contains(&n) {
            return Err(Error::invalid("maxConnections must be an integer between 1 and 100000"));
        }
        opts.max_connections = n as usize;
    }
    opts.no_face_error = o.no_face_error.unwrap_or(false);
    match o.data_dir {
        Some(d) if d.is_empty() || d.contains('\0') => {
            return Err(Error::invalid("dataDir must be a folder path"));
        }
        d => opts.data_dir = d.map(Into::into),
    }
    Ok(opts)
}

/// `v` when it is an integer in `min..=max`, else `invalid_argument` with `message`.
fn int(v: f64, min: f64, max: f64, message: &str) -> std::result::Result<f64, Error> {
    match v.is_finite() && v.fract() == 0.0 && (min..=max).contains(&v) {
        true => Ok(v),
        false => Err(Error::invalid(message)),
    }
}

impl From<FaultSpec> for perse_local::FaultSpec {
    fn from(f: FaultSpec) -> Self {
        perse_local::FaultSpec {
            path: f.path,
            status: f.status,
            code: f.code,
            body: f.body,
            delay_ms: f.delay_ms,
            times: f.times,
            reach_caller: f.reach_caller,
        }
    }
}

impl From<perse_local::RecordedRequest> for RecordedRequest {
    fn from(r: perse_local::RecordedRequest) -> Self {
        RecordedRequest {
            method: r.method,
            path: r.path,
            fields: r.fields.into_iter().map(RecordedField::from).collect(),
            has_authorization: r.has_authorization,
            status: u32::from(r.status),
            faulted: r.faulted,
        }
    }
}

impl From<perse_local::RecordedField> for RecordedField {
    fn from(f: perse_local::RecordedField) -> Self {
        RecordedField {
            name: f.name,
            filename: f.filename,
            content_type: f.content_type,
            size: f.size as u32,
            value: f.value,
        }
    }
}
