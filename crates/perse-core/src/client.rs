//! The client: its configuration, its secrets and its lifecycle. The calls themselves are in
//! `endpoints.rs`; [`Client::run`] wraps each of them with `close()`, the caller's abort, and
//! the redaction of secrets, and the request loop is in `executor.rs`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::auth::{check_private_key, check_token, Auth, TokenProvider, TokenSource};
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::headers::Headers;
use crate::image::ImageSource;
use crate::multipart::Multipart;
use crate::prepare::{prepare_source, PrepareMode, Upload};
use crate::results::{AttemptTrace, CallTrace};
use crate::transport::{HttpTransport, Transport};

/// Per-call settings; `None` means "use the client's".
#[derive(Clone, Default)]
pub struct CallOptions {
    /// The end user consented to biometric processing. Required by every biometric call.
    pub consent: bool,
    /// Per-attempt time limit (also bounds reading and preparing an image).
    pub timeout: Option<Duration>,
    /// Extra attempts after the first.
    pub max_retries: Option<u32>,
    /// Fires when the caller aborts.
    pub cancel: Option<CancelToken>,
    /// Overrides the client's image preparation mode for this call.
    pub prepare: Option<PrepareMode>,
    /// Extra request headers for this call (checked by [`check_headers`]), sent after the
    /// client's own (`Config::headers`), whose names they override.
    pub headers: Option<Arc<Headers>>,
    /// What the call did so far, as the request loop fills it in: shared, so that a call aborted
    /// or closed mid-request still reports its attempts and request id.
    pub log: Arc<CallLog>,
    /// Set by the request loop on the copy a token refresh runs with (its `/login` attempts
    /// are not the call's own); leave it `false`.
    pub in_refresh: bool,
}

impl CallOptions {
    /// Attempts started so far.
    pub fn attempts_sent(&self) -> u32 {
        self.log.sent.load(Ordering::Relaxed)
    }
}

/// What one call did, filled in by the request loop (`executor.rs`) as it goes.
#[derive(Default)]
pub struct CallLog {
    /// Attempts started so far (the request loop counts them as it sends).
    pub(crate) sent: std::sync::atomic::AtomicU32,
    /// Whether to keep each attempt's facts ([`CallTrace`]): only when the JS side traces the
    /// call (a diagnostics_channel subscriber, `NODE_DEBUG=perse-node` or a `logger`).
    traced: bool,
    facts: std::sync::Mutex<Facts>,
}

#[derive(Default)]
struct Facts {
    request_id: Option<String>,
    trace: CallTrace,
}

impl CallLog {
    /// A log that keeps the attempts' facts when `traced`.
    pub fn new(traced: bool) -> Self {
        CallLog {
            traced,
            ..Default::default()
        }
    }

    fn facts(&self) -> std::sync::MutexGuard<'_, Facts> {
        self.facts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of the call's last request: the server's (its `x-request-id` or similar response
    /// header) when it answered with one, else the `X-Request-Id` the SDK sent.
    pub fn request_id(&self) -> Option<String> {
        self.facts().request_id.clone()
    }

    /// The call's attempts and refresh, when it was traced.
    pub fn trace(&self) -> Option<CallTrace> {
        self.traced.then(|| self.facts().trace.clone())
    }

    pub(crate) fn set_request_id(&self, id: &str) {
        let mut f = self.facts();
        if f.request_id.as_deref() != Some(id) {
            f.request_id = Some(id.to_string());
        }
    }

    pub(crate) fn attempt(&self, a: AttemptTrace) {
        if self.traced {
            self.facts().trace.attempts.push(a);
        }
    }

    pub(crate) fn refreshed(&self) {
        if self.traced {
            self.facts().trace.refreshed = true;
        }
    }
}

/// One side of a compare: an image, or an enrolled user's token.
#[derive(Clone, Debug)]
pub enum CompareInput {
    Image(ImageSource),
    UserToken(String),
}

/// A Perse API client. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Client {
    pub(crate) transport: Arc<dyn Transport>,
    /// Kept to build its loopback pool when `configure` moves to a loopback URL.
    http: Option<Arc<HttpTransport>>,
    config: RwLock<Arc<Config>>,
    /// The base URL is on this machine (no proxy), for the current config.
    direct: AtomicBool,
    pub(crate) auth: Auth,
    closed: CancelToken,
}

impl Client {
    /// A client on the real network.
    pub fn new(config: Config) -> Result<Self> {
        let http = HttpTransport::shared();
        let mut client = Self::with_transport(config, http.clone())?;
        let cfg = client.config();
        http.warm(client.direct(), &cfg.base_url, cfg.ca.as_ref())?;
        client.http = Some(http);
        Ok(client)
    }

    /// A client that sends through `transport` (tests script the network this way).
    pub fn with_transport(mut config: Config, transport: Arc<dyn Transport>) -> Result<Self> {
        config.validate()?;
        Ok(Client {
            transport,
            http: None,
            direct: AtomicBool::new(config.is_loopback()),
            config: RwLock::new(Arc::new(config)),
            auth: Auth::default(),
            closed: CancelToken::new(),
        })
    }

    /// A snapshot of the current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn direct(&self) -> bool {
        self.direct.load(Ordering::Relaxed)
    }

    /// Replaces the configuration for calls that start after this returns.
    pub fn configure(&self, mut config: Config) -> Result<()> {
        self.check_open()?;
        config.validate()?;
        let direct = config.is_loopback();
        if let Some(http) = &self.http {
            http.warm(direct, &config.base_url, config.ca.as_ref())?;
        }
        let base_url = config.base_url.clone();
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        self.direct.store(direct, Ordering::Relaxed);
        self.auth.bind(&base_url);
        Ok(())
    }

    /// Stores a session token (or clears it with `None`). A token that cannot be sent in a
    /// header is refused here, not at every later call.
    pub fn set_token(&self, token: Option<String>) -> Result<()> {
        self.check_open()?;
        if let Some(t) = &token {
            check_token(t).map_err(|why| Error::invalid(format!("token is not usable: {why}")))?;
        }
        let cleared = token.is_none();
        self.auth.set_token(token);
        if cleared {
            self.auth.bind(&self.config().base_url);
        }
        Ok(())
    }

    /// Whether a session token is currently held.
    pub fn has_token(&self) -> bool {
        self.auth.has_token()
    }

    /// Log in with this key whenever a new token is needed (`None`: stop doing so).
    pub fn set_private_key(&self, key: Option<String>) -> Result<()> {
        self.check_open()?;
        if let Some(k) = &key {
            check_private_key(k)?;
        }
        self.auth.set_source(match key {
            Some(k) => TokenSource::PrivateKey(Arc::from(k)),
            None => TokenSource::Manual,
        });
        self.auth.bind(&self.config().base_url);
        Ok(())
    }

    /// Ask this provider whenever a new token is needed (`None`: stop doing so).
    pub fn set_token_provider(&self, provider: Option<Arc<dyn TokenProvider>>) -> Result<()> {
        self.check_open()?;
        self.auth.set_source(match provider {
            Some(p) => TokenSource::Provider(p),
            None => TokenSource::Manual,
        });
        self.auth.bind(&self.config().base_url);
        Ok(())
    }

    /// Rejects in-flight and future calls with `client_closed`, and forgets every secret
    /// (releasing a JS callback, so it no longer holds the event loop or the closure).
    pub fn close(&self) {
        self.closed.cancel();
        self.auth.close();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        match self.is_closed() {
            true => Err(ErrorKind::ClientClosed.into()),
            false => Ok(()),
        }
    }

    /// Common wrapper: refuses calls on a closed client, honours cancellation, and makes the
    /// error safe to show (secrets redacted, one bounded line).
    pub(crate) async fn run<T>(&self, opts: &CallOptions, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.check_open()?;
        let cancel = opts.cancel.clone().unwrap_or_default();
        if cancel.is_cancelled() {
            return Err(ErrorKind::Aborted.into());
        }
        let out = tokio::select! {
            biased;
            _ = self.closed.cancelled() => Err(Error::from(ErrorKind::ClientClosed).with_attempts(opts.attempts_sent())),
            _ = cancel.cancelled() => Err(Error::from(ErrorKind::Aborted).with_attempts(opts.attempts_sent())),
            r = fut => r,
        };
        out.map_err(|mut e| {
            for s in self.auth.secrets() {
                e.redact(&s);
            }
            e.redact_jwts();
            e.tidy();
            e
        })
    }

    pub(crate) async fn add_image(
        &self,
        m: &mut Multipart,
        field: &str,
        src: ImageSource,
        opts: &CallOptions,
    ) -> Result<Upload> {
        let cfg = self.config();
        let mut prep = cfg.prepare;
        if let Some(mode) = opts.prepare {
            prep.mode = mode;
        }
        let timeout = opts.timeout.unwrap_or(cfg.timeout);
        let prepared = tokio::time::timeout(timeout, prepare_source(src, prep))
            .await
            .map_err(|_| Error::from(ErrorKind::Timeout(timeout.as_millis() as u64)))??;
        let (mime, filename) = prepared
            .format
            .upload_mime()
            .unwrap_or(("application/octet-stream", "image"));
        let upload = Upload::of(&prepared);
        m.file(field, filename, mime, prepared.data);
        Ok(upload)
    }
}
