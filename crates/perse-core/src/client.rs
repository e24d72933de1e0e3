//! The client and its calls. Each call checks its inputs before touching the network, builds
//! a [`Request`], and hands it to the request loop (`executor.rs`); [`Client::run`] wraps
//! every call with `close()`, the caller's abort, and the redaction of secrets.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::Method;

use crate::auth::{check_token, Auth, TokenProvider, TokenSource, MAX_TOKEN_BYTES};
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::image::ImageSource;
use crate::models::*;
use crate::multipart::Multipart;
use crate::prepare::{prepare_source, PrepareMode};
use crate::transport::{Body, HttpTransport, Request, Transport};

const CONSENT_FIELD: &str = "client_declaration_enduser_consent";

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
        let http = Arc::new(HttpTransport::default());
        let mut client = Self::with_transport(config, http.clone())?;
        http.warm(client.direct())?;
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
            http.warm(direct)?;
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        self.direct.store(direct, Ordering::Relaxed);
        Ok(())
    }

    /// Stores a session token (or clears it with `None`). A token that cannot be sent in a
    /// header is refused here, not at every later call.
    pub fn set_token(&self, token: Option<String>) -> Result<()> {
        self.check_open()?;
        if let Some(t) = &token {
            check_token(t).map_err(|why| Error::invalid(format!("token is not usable: {why}")))?;
        }
        self.auth.set_token(token);
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
        Ok(())
    }

    /// Ask this provider whenever a new token is needed (`None`: stop doing so).
    pub fn set_token_provider(&self, provider: Option<Arc<dyn TokenProvider>>) -> Result<()> {
        self.check_open()?;
        self.auth.set_source(match provider {
            Some(p) => TokenSource::Provider(p),
            None => TokenSource::Manual,
        });
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

    fn check_open(&self) -> Result<()> {
        match self.is_closed() {
            true => Err(ErrorKind::ClientClosed.into()),
            false => Ok(()),
        }
    }

    /// `POST /login`: exchanges a private key for a session token, stores and returns it.
    pub async fn login(&self, private_key: &str, opts: &CallOptions) -> Result<String> {
        self.run(opts, async {
            check_private_key(private_key)?;
            self.auth.remember(Arc::from(private_key));
            let token = self.do_login(private_key, opts).await?;
            self.auth.set_token(Some(token.clone()));
            Ok(token)
        })
        .await
    }

    /// `POST /face/detect`.
    pub async fn detect(&self, image: ImageSource, opts: &CallOptions) -> Result<DetectResponse> {
        let parts = vec![Part::Image("image_file", image)];
        self.upload(Method::POST, "/face/detect", parts, true, opts).await
    }

    /// `POST /face/compare`; either side may be an enrolled user's token.
    pub async fn compare(&self, a: CompareInput, b: CompareInput, opts: &CallOptions) -> Result<CompareResponse> {
        let side = |input, file, token, what| match input {
            CompareInput::Image(src) => Part::Image(file, src),
            CompareInput::UserToken(t) => Part::UserToken(token, t, what),
        };
        let parts = vec![
            side(a, "image_file1", "image_token1", "first userToken"),
            side(b, "image_file2", "image_token2", "second userToken"),
        ];
        self.upload(Method::POST, "/face/compare", parts, true, opts).await
    }

    /// `POST /face/enrollment`. Never resent once the server may have seen it.
    pub async fn enroll(&self, image: ImageSource, opts: &CallOptions) -> Result<EnrollResponse> {
        let parts = vec![Part::Image("image_file", image)];
        self.upload(Method::POST, "/face/enrollment", parts, false, opts).await
    }

    /// `GET /face/enrollment/list`.
    pub async fn list(&self, opts: &CallOptions) -> Result<ListResponse> {
        let req = bodiless(Method::GET, "/face/enrollment/list".into());
        self.run(opts, self.execute(req, opts, true)).await
    }

    /// `PUT /face/enrollment`: replaces the biometric data of `user_token`.
    pub async fn update(&self, user_token: &str, image: ImageSource, opts: &CallOptions) -> Result<EnrollResponse> {
        let parts = vec![
            Part::Image("image_file", image),
            Part::UserToken("user_token", user_token.to_string(), "userToken"),
        ];
        self.upload(Method::PUT, "/face/enrollment", parts, false, opts).await
    }

    /// `DELETE /face/enrollment/{user_token}`.
    pub async fn delete(&self, user_token: &str, opts: &CallOptions) -> Result<DeleteResponse> {
        self.run(opts, async {
            check_user_token(user_token, "userToken")?;
            let path = format!("/face/enrollment/{}", encode_segment(user_token));
            self.execute(bodiless(Method::DELETE, path), opts, true).await
        })
        .await
    }

    /// A multipart call: consent first, then the user tokens are checked, then the images are
    /// prepared (under the call's time limit), in field order, and the consent field ends it.
    async fn upload<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        parts: Vec<Part>,
        idempotent: bool,
        opts: &CallOptions,
    ) -> Result<T> {
        self.run(opts, async {
            if !opts.consent {
                return Err(ErrorKind::ConsentRequired.into());
            }
            for p in &parts {
                if let Part::UserToken(_, t, what) = p {
                    check_user_token(t, what)?;
                }
            }
            let mut m = Multipart::new();
            for p in parts {
                match p {
                    Part::Image(field, src) => self.add_image(&mut m, field, src, opts).await?,
                    Part::UserToken(field, t, _) => {
                        m.text(field, &t);
                    }
                }
            }
            m.text(CONSENT_FIELD, "true");
            let (content_type, body) = m.finish();
            let req = Request {
                method,
                path: path.into(),
                body: Body::Multipart { content_type, body },
                idempotent,
            };
            self.execute(req, opts, true).await
        })
        .await
    }

    /// Common wrapper: refuses calls on a closed client, honours cancellation, and makes the
    /// error safe to show (secrets redacted, one bounded line).
    async fn run<T>(&self, opts: &CallOptions, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.check_open()?;
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
        out.map_err(|mut e| {
            for s in self.auth.secrets() {
                e.redact(&s);
            }
            e.redact_jwts();
            e.tidy();
            e
        })
    }

    async fn add_image(&self, m: &mut Multipart, field: &str, src: ImageSource, opts: &CallOptions) -> Result<()> {
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
        m.file(field, filename, mime, prepared.data);
        Ok(())
    }
}

/// A form field of an upload: an image, or a user token (with its name for error messages).
enum Part {
    Image(&'static str, ImageSource),
    UserToken(&'static str, String, &'static str),
}

fn bodiless(method: Method, path: String) -> Request {
    Request {
        method,
        path,
        body: Body::Empty,
        idempotent: true,
    }
}

/// A private key as the caller gave it: a trailing line break (read from a file) would only
/// show up later as a failed login.
fn check_private_key(k: &str) -> Result<()> {
    if k.is_empty() {
        return Err(Error::invalid("privateKey must be a non-empty string"));
    }
    if k.len() > MAX_TOKEN_BYTES {
        return Err(Error::invalid(format!(
            "privateKey is longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    if k.chars().any(char::is_control) {
        return Err(Error::invalid(
            "privateKey contains a line break or control character (a key read from a file often ends in one: trim it)",
        ));
    }
    Ok(())
}

/// A user token as it may appear in a form field or a path segment. `.` and `..` (also
/// percent-encoded) are refused: as a path segment, URL parsers resolve them as "here" and
/// "up", so `DELETE /face/enrollment/..` would address another resource.
fn check_user_token(t: &str, what: &str) -> Result<()> {
    if t.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must be a non-empty string")));
    }
    if t.len() > 4096 || t.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "{what} is not a valid user token (too long or has control characters)"
        )));
    }
    let decoded = t.replace("%2e", ".").replace("%2E", ".");
    if decoded == "." || decoded == ".." {
        return Err(Error::invalid(format!("{what} is not a valid user token ('{t}')")));
    }
    Ok(())
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
    fn segment_encoding_and_dot_segments() {
        assert_eq!(encode_segment("abc-123_x.y~"), "abc-123_x.y~");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
        for bad in [".", "..", "%2e", "%2E%2e", ".%2E"] {
            assert_eq!(
                check_user_token(bad, "t").unwrap_err().code(),
                "invalid_argument",
                "{bad}"
            );
        }
        assert!(check_user_token("...", "t").is_ok());
        assert!(check_user_token("usr_1.2", "t").is_ok());
    }

    #[test]
    fn private_keys_with_line_breaks_are_refused() {
        assert!(check_private_key("sk_live_x").is_ok());
        let e = check_private_key("sk_live_x\n").unwrap_err();
        assert!(e.to_string().contains("trim"));
        assert!(!e.to_string().contains("sk_live_x"));
    }
}
