//! The Perse calls. Each one checks its inputs before touching the network, then runs the
//! shared request loop (auth, timeout, retries, error mapping) in [`Client::execute`].

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::auth::{Auth, Token, TokenProvider, TokenSource};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::image::{self, ImageSource};
use crate::models::*;
use crate::multipart::Multipart;
use crate::prepare::{prepare, PrepareMode, PrepareOptions, Prepared};
use crate::retry::is_retryable_status;
use crate::transport::{send, Attempt, Body, CancelToken, Request};

const CONSENT_FIELD: &str = "client_declaration_enduser_consent";

/// Loads an image and prepares it for upload. `Fit` work (decode, resize, encode) runs on
/// tokio's blocking pool; `Validate` only reads headers, so it runs inline.
pub async fn prepare_source(src: ImageSource, opts: PrepareOptions) -> Result<Prepared> {
    let bytes: Bytes = image::load(src).await?;
    match opts.mode {
        PrepareMode::Validate => prepare(bytes, &opts),
        PrepareMode::Fit => tokio::task::spawn_blocking(move || prepare(bytes, &opts))
            .await
            .map_err(|e| Error::from(ErrorKind::Internal(format!("image preparation failed: {e}"))))?,
    }
}

/// Per-call settings; `None` means "use the client's".
#[derive(Clone, Default)]
pub struct CallOptions {
    /// The end user consented to biometric processing. Required by every biometric call.
    pub consent: bool,
    /// Per-attempt time limit.
    pub timeout: Option<Duration>,
    /// Extra attempts after the first.
    pub max_retries: Option<u32>,
    /// Fires when the caller aborts.
    pub cancel: Option<CancelToken>,
    /// Overrides the client's image preparation mode for this call.
    pub prepare: Option<PrepareMode>,
}

/// One side of a compare: an image, or an enrolled user's token.
#[derive(Clone, Debug)]
pub enum CompareInput {
    Image(ImageSource),
    UserToken(String),
}

/// A Perse API client. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Client {
    http: reqwest::Client,
    config: RwLock<Arc<Config>>,
    auth: Auth,
    closed: CancelToken,
}

impl Client {
    pub fn new(mut config: Config) -> Result<Self> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::from(ErrorKind::Internal(format!("cannot build the HTTP client: {e}"))))?;
        Ok(Client {
            http,
            config: RwLock::new(Arc::new(config)),
            auth: Auth::default(),
            closed: CancelToken::new(),
        })
    }

    /// A snapshot of the current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the configuration for calls that start after this returns.
    pub fn configure(&self, mut config: Config) -> Result<()> {
        config.validate()?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        Ok(())
    }

    /// Stores a session token (or clears it with `None`).
    pub fn set_token(&self, token: Option<String>) {
        self.auth.set_token(token.filter(|t| !t.is_empty()));
    }

    /// Whether a session token is currently held.
    pub fn has_token(&self) -> bool {
        self.auth.has_token()
    }

    /// Log in with this key whenever a new token is needed (`None`: stop doing so).
    pub fn set_private_key(&self, key: Option<String>) {
        self.auth.set_source(match key.filter(|k| !k.is_empty()) {
            Some(k) => TokenSource::PrivateKey(Arc::from(k)),
            None => TokenSource::Manual,
        });
    }

    /// Ask this provider whenever a new token is needed (`None`: stop doing so).
    pub fn set_token_provider(&self, provider: Option<Arc<dyn TokenProvider>>) {
        self.auth.set_source(match provider {
            Some(p) => TokenSource::Provider(p),
            None => TokenSource::Manual,
        });
    }

    /// Rejects in-flight and future calls with `client_closed` and drops the token source
    /// (releasing a JS callback, so it no longer holds the event loop or the closure).
    pub fn close(&self) {
        self.closed.cancel();
        self.auth.set_source(TokenSource::Manual);
        self.auth.set_token(None);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// `POST /login`: exchanges a private key for a session token, stores and returns it.
    pub async fn login(&self, private_key: &str, opts: &CallOptions) -> Result<String> {
        self.run(opts, async {
            if private_key.is_empty() {
                return Err(Error::invalid("privateKey must be a non-empty string"));
            }
            let token = self.do_login(private_key, opts).await?;
            self.auth.set_token(Some(token.clone()));
            Ok(token)
        })
        .await
    }

    /// `POST /face/detect`.
    pub async fn detect(&self, image: ImageSource, opts: &CallOptions) -> Result<DetectResponse> {
        self.run(opts, async {
            require_consent(opts)?;
            let mut m = Multipart::new();
            self.add_image(&mut m, "image_file", image, opts).await?;
            m.text(CONSENT_FIELD, "true");
            self.execute(multipart(Method::POST, "/face/detect", m, true), opts)
                .await
        })
        .await
    }

    /// `POST /face/compare`; either side may be an enrolled user's token.
    pub async fn compare(&self, a: CompareInput, b: CompareInput, opts: &CallOptions) -> Result<CompareResponse> {
        self.run(opts, async {
            require_consent(opts)?;
            let mut m = Multipart::new();
            for (i, side) in [(1, a), (2, b)] {
                match side {
                    CompareInput::Image(src) => self.add_image(&mut m, &format!("image_file{i}"), src, opts).await?,
                    CompareInput::UserToken(t) => {
                        check_user_token(&t, if i == 1 { "first userToken" } else { "second userToken" })?;
                        m.text(&format!("image_token{i}"), &t);
                    }
                }
            }
            m.text(CONSENT_FIELD, "true");
            self.execute(multipart(Method::POST, "/face/compare", m, true), opts)
                .await
        })
        .await
    }

    /// `POST /face/enrollment`. Never resent once the server may have seen it.
    pub async fn enroll(&self, image: ImageSource, opts: &CallOptions) -> Result<EnrollResponse> {
        self.run(opts, async {
            require_consent(opts)?;
            let mut m = Multipart::new();
            self.add_image(&mut m, "image_file", image, opts).await?;
            m.text(CONSENT_FIELD, "true");
            self.execute(multipart(Method::POST, "/face/enrollment", m, false), opts)
                .await
        })
        .await
    }

    /// `GET /face/enrollment/list`.
    pub async fn list(&self, opts: &CallOptions) -> Result<ListResponse> {
        self.run(opts, async {
            let req = Request {
                method: Method::GET,
                path: "/face/enrollment/list".into(),
                body: Body::Empty,
                idempotent: true,
            };
            self.execute(req, opts).await
        })
        .await
    }

    /// `PUT /face/enrollment`: replaces the biometric data of `user_token`.
    pub async fn update(&self, user_token: &str, image: ImageSource, opts: &CallOptions) -> Result<EnrollResponse> {
        self.run(opts, async {
            check_user_token(user_token, "userToken")?;
            require_consent(opts)?;
            let mut m = Multipart::new();
            self.add_image(&mut m, "image_file", image, opts).await?;
            m.text("user_token", user_token);
            m.text(CONSENT_FIELD, "true");
            self.execute(multipart(Method::PUT, "/face/enrollment", m, false), opts)
                .await
        })
        .await
    }

    /// `DELETE /face/enrollment/{user_token}`.
    pub async fn delete(&self, user_token: &str, opts: &CallOptions) -> Result<DeleteResponse> {
        self.run(opts, async {
            check_user_token(user_token, "userToken")?;
            let req = Request {
                method: Method::DELETE,
                path: format!("/face/enrollment/{}", encode_segment(user_token)),
                body: Body::Empty,
                idempotent: true,
            };
            self.execute(req, opts).await
        })
        .await
    }

    /// Common wrapper: refuses calls on a closed client, honours cancellation, redacts secrets.
    async fn run<T>(&self, opts: &CallOptions, fut: impl Future<Output = Result<T>>) -> Result<T> {
        if self.closed.is_cancelled() {
            return Err(ErrorKind::ClientClosed.into());
        }
        let cancel = opts.cancel.clone().unwrap_or_default();
        if cancel.is_cancelled() {
            return Err(ErrorKind::Aborted.into());
        }
        let out = tokio::select! {
            biased;
            _ = self.closed.cancelled() => Err(ErrorKind::ClientClosed.into()),
            _ = cancel.cancelled() => Err(ErrorKind::Aborted.into()),
            r = fut => r,
        };
        out.map_err(|e| self.redact(e))
    }

    fn redact(&self, mut e: Error) -> Error {
        for s in self.auth.secrets() {
            e.redact(&s);
        }
        e.redact_jwts();
        e
    }

    async fn add_image(&self, m: &mut Multipart, field: &str, src: ImageSource, opts: &CallOptions) -> Result<()> {
        let mut prep = self.config().prepare;
        if let Some(mode) = opts.prepare {
            prep.mode = mode;
        }
        let prepared = prepare_source(src, prep).await?;
        let (mime, filename) = prepared
            .format
            .upload_mime()
            .unwrap_or(("application/octet-stream", "image"));
        m.file(field, filename, mime, prepared.data);
        Ok(())
    }

    async fn do_login(&self, key: &str, opts: &CallOptions) -> Result<String> {
        let body = serde_json::to_vec(&serde_json::json!({ "privateKey": key }))
            .map_err(|e| Error::from(ErrorKind::Internal(e.to_string())))?;
        let req = Request {
            method: Method::POST,
            path: "/login".into(),
            body: Body::Json(body.into()),
            idempotent: true,
        };
        match self.execute_anon::<LoginResponse>(req, opts).await {
            Ok(r) if !r.token.is_empty() => Ok(r.token),
            Ok(_) => Err(ErrorKind::Unexpected {
                http_status: Some(200),
                message: "login returned an empty token".into(),
            }
            .into()),
            Err(e) => Err(match e.http_status() {
                Some(400) => Error {
                    kind: ErrorKind::InvalidArgument(
                        "login rejected the request: the private key is missing or malformed".into(),
                    ),
                    ..e
                },
                Some(401) => Error {
                    kind: ErrorKind::Api {
                        code: "unauthorized".into(),
                        message: "login failed: the private key is invalid".into(),
                        http_status: 401,
                    },
                    ..e
                },
                _ => e,
            }),
        }
    }

    /// A token usable for the next request: the stored one, or a fresh one from the source.
    async fn token(&self, cfg: &Config, opts: &CallOptions) -> Result<Token> {
        let source = self.auth.source();
        if matches!(source, TokenSource::Manual) {
            return self.auth.current().ok_or_else(|| {
                ErrorKind::Api {
                    code: "unauthorized".into(),
                    message: "no session token: call setToken() or login(), or configure privateKey or onTokenRefresh"
                        .into(),
                    http_status: 401,
                }
                .into()
            });
        }
        match self.auth.fresh(cfg.refresh_skew) {
            Ok(t) => Ok(t),
            Err(generation) => self.refresh(generation, cfg, opts).await,
        }
    }

    /// Single flight: the first caller becomes the leader and fetches; everyone who needs a
    /// token meanwhile waits for the leader's outcome, success or failure. If the leader's
    /// call is dropped (aborted, closed), the waiters elect a new one.
    async fn refresh(&self, stale_generation: u64, cfg: &Config, opts: &CallOptions) -> Result<Token> {
        loop {
            // Decide under the lock, act after releasing it (a std guard must not cross an await).
            let role = {
                let mut flight = self.auth.flight();
                match (
                    self.auth.generation() != stale_generation,
                    self.auth.current(),
                    flight.as_ref(),
                ) {
                    (true, Some(t), _) => Role::Done(t),
                    (_, _, Some(rx)) => Role::Wait(rx.clone()),
                    _ => {
                        let (tx, rx) = tokio::sync::watch::channel(None);
                        *flight = Some(rx);
                        Role::Lead(tx)
                    }
                }
            };
            match role {
                Role::Done(t) => return Ok(t),
                Role::Lead(tx) => {
                    let landing = FlightLanding(&self.auth);
                    let result = self.fetch_token(cfg, opts).await;
                    drop(landing);
                    let _ = tx.send(Some(result.clone()));
                    return result;
                }
                Role::Wait(mut rx) => loop {
                    if let Some(result) = rx.borrow_and_update().clone() {
                        return result;
                    }
                    if rx.changed().await.is_err() {
                        break; // the leader was dropped before finishing: elect a new one
                    }
                },
            }
        }
    }

    /// Asks the token source for a new token and stores it.
    async fn fetch_token(&self, cfg: &Config, opts: &CallOptions) -> Result<Token> {
        let timeout = opts.timeout.unwrap_or(cfg.timeout);
        let token = match self.auth.source() {
            TokenSource::Manual => return Err(ErrorKind::ClientClosed.into()),
            TokenSource::PrivateKey(key) => self.do_login(&key, opts).await?,
            TokenSource::Provider(p) => match tokio::time::timeout(timeout, p.fetch_token()).await {
                Err(_) => {
                    let ms = timeout.as_millis();
                    return Err(refresh_failed(format!("onTokenRefresh did not settle within {ms} ms")));
                }
                Ok(Err(msg)) => return Err(refresh_failed(msg)),
                Ok(Ok(t)) if t.trim().is_empty() => {
                    return Err(refresh_failed("onTokenRefresh returned an empty token".into()))
                }
                Ok(Ok(t)) => t,
            },
        };
        self.auth.set_token(Some(token));
        self.auth.current().ok_or_else(|| ErrorKind::ClientClosed.into())
    }

    /// The request loop for authenticated calls: a token before each attempt, one refresh and
    /// resend on `401` when the client has a token source, retries as the policy allows.
    async fn execute<T: DeserializeOwned>(&self, req: Request, opts: &CallOptions) -> Result<T> {
        let cfg = self.config();
        let mut st = Progress::default();
        let mut reauthed = false;
        loop {
            let token = self.token(&cfg, opts).await.map_err(|e| e.with_attempts(st.attempts))?;
            match self.attempt(&cfg, &req, opts, Some(&token.value), &mut st).await {
                Step::Done(status, body) => return parse_body(status, &body).map_err(|e| e.with_attempts(st.attempts)),
                Step::Retry(delay) => tokio::time::sleep(delay).await,
                Step::Unauthorized(_) if !reauthed && !matches!(self.auth.source(), TokenSource::Manual) => {
                    reauthed = true;
                    self.refresh(token.generation, &cfg, opts)
                        .await
                        .map_err(|e| e.with_attempts(st.attempts))?;
                }
                Step::Unauthorized(e) | Step::Fail(e) => return Err(e),
            }
        }
    }

    /// The same loop without a token, for `/login` (kept apart so login never recurses into
    /// token refresh).
    async fn execute_anon<T: DeserializeOwned>(&self, req: Request, opts: &CallOptions) -> Result<T> {
        let cfg = self.config();
        let mut st = Progress::default();
        loop {
            match self.attempt(&cfg, &req, opts, None, &mut st).await {
                Step::Done(status, body) => return parse_body(status, &body).map_err(|e| e.with_attempts(st.attempts)),
                Step::Retry(delay) => tokio::time::sleep(delay).await,
                Step::Unauthorized(e) | Step::Fail(e) => return Err(e),
            }
        }
    }

    /// Sends once and decides what happens next.
    async fn attempt(
        &self,
        cfg: &Config,
        req: &Request,
        opts: &CallOptions,
        token: Option<&str>,
        st: &mut Progress,
    ) -> Step {
        let timeout = opts.timeout.unwrap_or(cfg.timeout);
        let max_retries = opts.max_retries.unwrap_or(cfg.retry.max_retries);
        st.attempts += 1;
        let sent = send(&self.http, &cfg.base_url, &cfg.user_agent, req, token);
        // (error, worth retrying in principle, safe to resend this request, server's wait)
        let (kind, retryable, resend_ok, wait) = match tokio::time::timeout(timeout, sent).await {
            Err(_) => (
                ErrorKind::Timeout(timeout.as_millis() as u64),
                true,
                req.idempotent,
                None,
            ),
            Ok(Attempt::ConnectFailed(msg)) => (ErrorKind::Network(msg), true, true, None),
            Ok(Attempt::Broken { message, reset, status }) => {
                let kind = match (reset, status) {
                    (false, Some(s)) => ErrorKind::Unexpected {
                        http_status: Some(s),
                        message: format!("the HTTP {s} response body was cut short: {message}"),
                    },
                    _ => ErrorKind::Network(message),
                };
                (kind, true, req.idempotent, None)
            }
            Ok(Attempt::Response { status, body, .. }) if (200..300).contains(&status) => {
                return Step::Done(status, body)
            }
            Ok(Attempt::Response {
                status,
                retry_after,
                body,
            }) => {
                let e = Error::from_response(status, &body);
                if status == 401 {
                    return Step::Unauthorized(e.with_attempts(st.attempts));
                }
                let too_long = retry_after.is_some_and(|w| w > cfg.retry.max_retry_after);
                (
                    e.kind,
                    is_retryable_status(status),
                    req.idempotent && !too_long,
                    retry_after,
                )
            }
        };
        if retryable && resend_ok && st.retries < max_retries {
            let delay = wait.unwrap_or_else(|| cfg.retry.backoff(st.retries));
            st.retries += 1;
            return Step::Retry(delay);
        }
        let connect_failed = matches!(kind, ErrorKind::Network(_)) && resend_ok && !req.idempotent;
        Step::Fail(Error {
            kind,
            attempts: st.attempts,
            retryable: retryable && (req.idempotent || connect_failed),
        })
    }
}

/// Counters carried across the attempts of one call.
#[derive(Default)]
struct Progress {
    attempts: u32,
    retries: u32,
}

/// A caller's part in a token refresh.
enum Role {
    Done(Token),
    Wait(tokio::sync::watch::Receiver<Option<crate::auth::FlightResult>>),
    Lead(tokio::sync::watch::Sender<Option<crate::auth::FlightResult>>),
}

/// Clears the in-flight refresh marker when the leader finishes or is dropped.
struct FlightLanding<'a>(&'a Auth);

impl Drop for FlightLanding<'_> {
    fn drop(&mut self) {
        *self.0.flight() = None;
    }
}

/// What to do after an attempt.
enum Step {
    Done(u16, Bytes),
    Retry(Duration),
    Unauthorized(Error),
    Fail(Error),
}

impl Error {
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = self.attempts.max(attempts);
        self
    }

    /// Replaces every occurrence of `secret` in the message with `[redacted]`.
    pub fn redact(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.edit_text(|s| {
                if s.contains(secret) {
                    *s = s.replace(secret, "[redacted]");
                }
            });
        }
    }

    /// Replaces anything shaped like a JWT (`eyJ...`.`...`.`...`) with `[redacted]`: callbacks
    /// and servers can echo tokens this client never held.
    pub fn redact_jwts(&mut self) {
        self.edit_text(|s| {
            if s.contains("eyJ") {
                *s = scrub_jwts(s);
            }
        });
    }

    fn edit_text(&mut self, fix: impl Fn(&mut String)) {
        match &mut self.kind {
            ErrorKind::Api { message, .. } | ErrorKind::Unexpected { message, .. } => fix(message),
            ErrorKind::InvalidArgument(m)
            | ErrorKind::FileNotFound(m)
            | ErrorKind::EmptyFile(m)
            | ErrorKind::InvalidFileType(m)
            | ErrorKind::FileTooLarge(m)
            | ErrorKind::Network(m)
            | ErrorKind::Internal(m) => fix(m),
            ErrorKind::Server { detail, .. } | ErrorKind::RateLimited { detail } => fix(detail),
            ErrorKind::TokenRefreshFailed { cause } => fix(cause),
            ErrorKind::ConsentRequired | ErrorKind::Timeout(_) | ErrorKind::Aborted | ErrorKind::ClientClosed => {}
        }
    }
}

fn scrub_jwts(s: &str) -> String {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("eyJ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let len = tail.find(|c: char| !is_tok(c)).unwrap_or(tail.len());
        let candidate = &tail[..len];
        if candidate.matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(candidate);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn refresh_failed(cause: String) -> Error {
    Error {
        kind: ErrorKind::TokenRefreshFailed { cause },
        attempts: 0,
        retryable: true,
    }
}

fn require_consent(opts: &CallOptions) -> Result<()> {
    match opts.consent {
        true => Ok(()),
        false => Err(ErrorKind::ConsentRequired.into()),
    }
}

fn check_user_token(t: &str, what: &str) -> Result<()> {
    if t.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must be a non-empty string")));
    }
    if t.len() > 4096 || t.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "{what} is not a valid user token (too long or has control characters)"
        )));
    }
    Ok(())
}

fn multipart(method: Method, path: &str, m: Multipart, idempotent: bool) -> Request {
    let (content_type, body) = m.finish();
    Request {
        method,
        path: path.into(),
        body: Body::Multipart { content_type, body },
        idempotent,
    }
}

fn parse_body<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if body.is_empty() {
            "is empty".to_string()
        } else {
            format!("is {} and not a valid Perse body ({e})", image::describe_text(body))
        };
        ErrorKind::Unexpected {
            http_status: Some(status),
            message: format!("the HTTP {status} response {what}"),
        }
        .into()
    })
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters pass).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_encoding() {
        assert_eq!(encode_segment("abc-123_x.y~"), "abc-123_x.y~");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn redaction() {
        let mut e = Error::from(ErrorKind::Api {
            code: "x".into(),
            message: "bad key sk_live_123".into(),
            http_status: 400,
        });
        e.redact("sk_live_123");
        assert_eq!(e.to_string(), "bad key [redacted]");
        assert_eq!(
            scrub_jwts("a eyJhbGc.eyJzdWIi.sig-_1 b eyJnotjwt c"),
            "a [redacted] b eyJnotjwt c"
        );
    }
}
