//! `startLocalServer`: the local Perse-compatible server from `crates/perse-local`, run on
//! napi's tokio runtime, with its test controls. `perse-node`'s `lib/local-server.js` wraps it.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::Error;
use perse_napi_edge::{fail, js_options, refused, spawn, spec_list, ErrorInfo, Outcome};

js_options! {
    /// How to start the local server.
    #[napi(object)]
    pub struct LocalServerOptions [LOCAL_SERVER_KEYS] {
        /// TCP port ({range}); 0 (the default) picks a free one.
        #[integer(0 ..= 65_535)]
        port: Option<f64>,
        /// Interface to bind; default `127.0.0.1`. Anything else must be asked for explicitly.
        host: Option<String>,
        /// The private key `/login` accepts; default a random `sk_local_...`.
        private_key: Option<String>,
        /// Lifetime of issued session tokens in seconds ({range}); default 900 (15 minutes, as the API).
        #[number(1 ..= 31_536_000, "seconds")]
        token_ttl_seconds: Option<f64>,
        /// The `livenessScore` reported for every face ({range}); default 0.9 (there is no liveness model).
        #[number(0 ..= 1)]
        liveness_score: Option<f64>,
        /// A connection must send its request headers within this many milliseconds ({range};
        /// idle keep-alive connections are closed after it too); default 30000.
        #[number(1 ..= 3_600_000, "milliseconds")]
        header_timeout_ms: Option<f64>,
        /// Connections served at once ({range}); more wait until one closes. Default 512.
        #[integer(1 ..= 100_000)]
        max_connections: Option<f64>,
        /// Keep enrollments in `<dataDir>/enrollments.redb`, so that they survive a restart (one server per folder). Default: in memory, forgotten on close.
        data_dir: Option<String>,
        /// Answer a detect that finds no face with 422 `no_face_detected`, as the hosted API may, instead of `totalFaces: 0`. Default false.
        no_face_error: Option<bool>,
        /// Write one line per request to stderr (method, path, status, milliseconds, request id; never a token, header value or body). Default false; `perse-node serve --log` turns it on.
        log_requests: Option<bool>,
        /// How many uploads the analysis cache keeps ({range}): an image sent again (by the SHA-256 of its bytes) is answered from it, without decoding or detecting again. Answers are the same either way. 0 turns the cache off; default 256.
        #[integer(0 ..= 1_000_000)]
        analysis_cache_entries: Option<f64>,
        /// How many bytes the analysis cache may hold ({range}; no pixels are kept, about 1 KB per photo); 0 turns it off. Default 16777216 (16 MiB).
        #[integer(0 ..= 1_073_741_824)]
        analysis_cache_bytes: Option<f64>,
    }
}

// `injectFault`'s argument: perse-local's declaration (shared with its HTTP controls), which
// also checks it.
perse_local::fault_spec!(#[napi(object)] #[into(perse_local::FaultSpec)]);

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
    /// The request's `X-Request-Id`, echoed in the answer (the same on every attempt of one call).
    pub request_id: Option<String>,
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
    OptionSpecs {
        local_server: spec_list(LOCAL_SERVER_KEYS),
        fault: spec_list(FAULT_KEYS),
    }
}

/// The server's settings from the JS options, each number checked against its range first.
fn convert(o: LocalServerOptions) -> std::result::Result<perse_local::LocalServerOptions, Error> {
    o.check()?;
    let mut opts = perse_local::LocalServerOptions::default();
    if let Some(p) = o.port {
        opts.port = p as u16;
    }
    if let Some(h) = o.host {
        opts.host = h;
    }
    opts.private_key = o.private_key;
    if let Some(t) = o.token_ttl_seconds {
        opts.token_ttl = Duration::from_secs(t as u64);
    }
    if let Some(l) = o.liveness_score {
        opts.liveness_score = l;
    }
    if let Some(ms) = o.header_timeout_ms {
        opts.header_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(n) = o.max_connections {
        opts.max_connections = n as usize;
    }
    opts.no_face_error = o.no_face_error.unwrap_or(false);
    opts.log_requests = o.log_requests.unwrap_or(false);
    if let Some(n) = o.analysis_cache_entries {
        opts.analysis_cache_entries = n as usize;
    }
    if let Some(n) = o.analysis_cache_bytes {
        opts.analysis_cache_bytes = n as usize;
    }
    match o.data_dir {
        Some(d) if d.is_empty() || d.contains('\0') => {
            return Err(Error::invalid("dataDir must be a folder path"));
        }
        d => opts.data_dir = d.map(Into::into),
    }
    Ok(opts)
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
            request_id: r.request_id,
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
