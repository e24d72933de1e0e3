//! Starting, controlling and stopping one local server. All state belongs to the instance:
//! several servers (one per test worker) can run in one process.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use perse_core::{CancelToken, Error, ErrorKind};

use crate::analysis::Engine;
use crate::controls::{Fault, FaultSpec, Log, RecordedRequest};
use crate::jwt::Issuer;
use crate::state::{lock, reset, State};
use crate::store::Store;

/// How to run a local server. The values are used as they are: the ranges a JS caller must
/// keep to (a port, at least one connection, a liveness score from 0 to 1, ...) are declared
/// and checked on perse-node-local's `LocalServerOptions` (`packages/local/src/server.rs`),
/// which builds these.
#[derive(Clone, Debug)]
pub struct LocalServerOptions {
    /// Interface to bind; loopback unless the caller says otherwise.
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    /// The key `/login` accepts; a random `sk_local_...` when `None`.
    pub private_key: Option<String>,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// The `liveness_score` reported for every face (there is no liveness model).
    pub liveness_score: f64,
    /// A connection must send a request's headers within this time, and an idle keep-alive
    /// connection is closed after it.
    pub header_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// The face engine's weight files (`packages/local/weights` in the repository).
    pub weights_dir: std::path::PathBuf,
    /// Keep enrollments in `data_dir/enrollments.redb` across restarts; in memory when `None`.
    pub data_dir: Option<std::path::PathBuf>,
    /// Answer a detect with no face with 422 `no_face_detected` (the hosted API may) instead
    /// of a result with `totalFaces: 0`.
    pub no_face_error: bool,
    /// Write one line per request to stderr: method, path, status, milliseconds and the
    /// request id (never a header's value, a body or a token). `serve --log` turns it on.
    pub log_requests: bool,
    /// The analysis cache's bounds (see `cache.rs`): uploads kept, and bytes; 0 turns it off.
    pub analysis_cache_entries: usize,
    pub analysis_cache_bytes: usize,
}

impl Default for LocalServerOptions {
    fn default() -> Self {
        LocalServerOptions {
            host: "127.0.0.1".into(),
            port: 0,
            private_key: None,
            token_ttl: Duration::from_secs(900),
            liveness_score: DEFAULT_LIVENESS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            weights_dir: default_weights_dir(),
            data_dir: None,
            no_face_error: false,
            log_requests: false,
            analysis_cache_entries: crate::cache::DEFAULT_ENTRIES,
            analysis_cache_bytes: crate::cache::DEFAULT_BYTES,
        }
    }
}

/// Default of [`LocalServerOptions::header_timeout`] (hyper's own default).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`LocalServerOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Documented constant: the local server has no liveness model.
pub const DEFAULT_LIVENESS: f64 = 0.9;

/// The weights folder of this repository's `perse-node-local` package (tests, the bench
/// server); the addon passes the installed package's folder instead.
pub fn default_weights_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packages/local/weights")
}

/// A running server.
pub struct LocalServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: CancelToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl LocalServer {
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(opts: LocalServerOptions) -> perse_core::Result<LocalServer> {
        let ip: IpAddr = match opts.host.as_str() {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            h => h
                .parse()
                .map_err(|_| Error::invalid(format!("host must be an IP address or 'localhost', not '{h}'")))?,
        };
        // Reading the weights (18 MB) and opening the store are file work: off the runtime.
        let (weights, data) = (opts.weights_dir.clone(), opts.data_dir.clone());
        let (engine, store) = tokio::task::spawn_blocking(move || {
            let engine = Engine::load(&weights).map_err(|m| Error::from(ErrorKind::Internal(m)))?;
            let store = match &data {
                Some(dir) => Store::open(dir).map_err(Error::invalid)?,
                None => Store::memory(),
            };
            Ok::<_, Error>((engine, store))
        })
        .await
        .map_err(|e| Error::from(ErrorKind::Internal(format!("starting the local server failed: {e}"))))??;
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, opts.port))
            .await
            .map_err(|e| Error::from(ErrorKind::Network(format!("cannot listen on {ip}:{}: {e}", opts.port))))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::from(ErrorKind::Network(e.to_string())))?;
        let private_key = opts
            .private_key
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| format!("sk_local_{:032x}", rand::random::<u128>()));
        let state = Arc::new(State {
            engine,
            issuer: Issuer::new(),
            private_key,
            token_ttl: opts.token_ttl,
            liveness: opts.liveness_score,
            no_face_error: opts.no_face_error,
            log_requests: opts.log_requests,
            generation: AtomicU64::new(0),
            store: Mutex::new(store),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Log::default()),
            analysis_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            ),
            memory_budget: tokio::sync::Semaphore::new((crate::analysis::MEMORY_BUDGET_BYTES / 1024) as usize),
            cache: crate::cache::Cache::new(opts.analysis_cache_entries, opts.analysis_cache_bytes),
        });
        let app = axum::Router::new()
            .fallback(crate::routes::handle)
            .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(state.clone());
        let shutdown = CancelToken::new();
        let task = tokio::spawn(crate::accept::serve(
            listener,
            app,
            opts.header_timeout,
            opts.max_connections,
            shutdown.clone(),
        ));
        Ok(LocalServer {
            addr,
            state,
            shutdown,
            task: Mutex::new(Some(task)),
        })
    }

    /// The base URL to give the SDK as it is (ends in `/v0`).
    pub fn url(&self) -> String {
        match self.addr.ip() {
            IpAddr::V6(ip) => format!("http://[{ip}]:{}/v0", self.addr.port()),
            IpAddr::V4(ip) => format!("http://{ip}:{}/v0", self.addr.port()),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn private_key(&self) -> &str {
        &self.state.private_key
    }

    /// Stops accepting and waits (up to 2 s) for in-flight requests, then drops the rest.
    pub async fn close(&self) {
        self.shutdown.cancel();
        let task = lock(&self.task).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(Duration::from_secs(2), &mut task).await.is_err() {
                task.abort();
            }
        }
        // Release the store's file now, not when the last handle to this server is dropped
        // (a JS object waits for GC): a new server on the same folder can start at once.
        lock(&self.state.store).close();
    }

    /// Stops accepting and asks every connection to finish, without waiting (for a
    /// synchronous caller such as a cleanup hook; `close` waits).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    pub fn inject_fault(&self, mut fault: Fault) {
        fault.times = fault.times.max(1);
        lock(&self.state.faults).push(fault);
    }

    /// A fault from a caller's description (checked).
    pub fn inject(&self, spec: FaultSpec) -> perse_core::Result<()> {
        let fault = Fault::try_from(spec)?;
        self.inject_fault(fault);
        Ok(())
    }

    /// Every token issued so far stops working now.
    pub fn expire_tokens(&self) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.log).to_vec()
    }

    /// Forgets enrollments, faults and the request log (issued tokens stay valid).
    pub fn reset(&self) {
        reset(&self.state);
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
