//! Session tokens: where new ones come from, when the current one is stale, and the
//! single-flight refresh that makes N concurrent callers wait for one login or callback.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::error::{Error, ErrorKind};

/// The future a [`TokenProvider`] returns: a JWT, or a message saying why there is none.
pub type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<String, String>> + Send>>;

/// Something that can mint a fresh session token, such as the application's JS callback.
pub trait TokenProvider: Send + Sync {
    fn fetch_token(&self) -> TokenFuture;
}

/// Where the client gets tokens when it needs a new one.
#[derive(Clone, Default)]
pub(crate) enum TokenSource {
    /// Only what `set_token` stored: an expired token surfaces as `unauthorized`.
    #[default]
    Manual,
    /// Log in with this private key.
    PrivateKey(Arc<str>),
    /// Ask the application.
    Provider(Arc<dyn TokenProvider>),
}

/// A token as handed to one request, with the generation it belongs to.
#[derive(Clone)]
pub(crate) struct Token {
    pub value: Arc<str>,
    pub generation: u64,
}

#[derive(Default)]
struct State {
    token: Option<Arc<str>>,
    exp: Option<u64>,
    /// `exp - iat` (or `exp - now` without `iat`): the skew never exceeds half of it, so a
    /// short-lived token is not treated as stale the moment it arrives.
    lifetime: Option<u64>,
    generation: u64,
}

/// Longest token accepted, in bytes: far above any real JWT, far below header limits.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// How many past secrets (tokens, private keys) are remembered for redaction. A server may
/// echo an old token in an error long after a refresh; tokens older than this many
/// refreshes (over 15 hours of 15-minute tokens) have long expired.
pub const HELD_SECRETS: usize = 64;

/// Why `token` cannot be sent as `Authorization: Bearer <token>`, if it cannot. Checked
/// when a token is stored, so a bad one is refused at the source instead of failing every
/// later call. The reason never quotes the token.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the token is {} bytes, longer than the {MAX_TOKEN_BYTES}-byte limit",
            token.len()
        ));
    }
    if token.contains(['\r', '\n']) {
        return Err("the token contains a line break (a token read from a file often ends in one: trim it)".into());
    }
    if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
        let what = match c {
            ' ' | '\t' => "whitespace",
            c if c.is_control() => "a control character",
            _ => "a non-ASCII character",
        };
        return Err(format!(
            "the token contains {what}, which cannot be sent in an HTTP header"
        ));
    }
    Ok(())
}

/// Token state of one client. Secrets stay inside; `Debug` is not derived on purpose.
#[derive(Default)]
pub(crate) struct Auth {
    state: Mutex<State>,
    source: RwLock<TokenSource>,
    /// The refresh in progress, if any: waiters subscribe to its outcome.
    flight: Mutex<Option<tokio::sync::watch::Receiver<Option<FlightResult>>>>,
    /// Every secret held recently (newest last), for redaction: see [`HELD_SECRETS`].
    held: Mutex<VecDeque<Arc<str>>>,
    /// Set by `close`: nothing is stored after it, so a closed client holds no secret.
    closed: std::sync::atomic::AtomicBool,
}

/// The outcome a refresh leader publishes to its waiters.
type FlightResult = crate::error::Result<Token>;

impl Auth {
    /// Stores (or clears) the token. The caller has checked it with [`check_token`]. Ignored
    /// once closed: a refresh that lands after `close` must not leave a token behind.
    pub fn set_token(&self, token: Option<String>) {
        let token: Option<Arc<str>> = token.map(Arc::from);
        if let Some(t) = &token {
            if self.is_closed() {
                return;
            }
            self.remember(t.clone());
        }
        let mut s = lock(&self.state);
        let claims = token.as_deref().and_then(jwt_claims);
        s.exp = claims.map(|c| c.0);
        s.lifetime = claims.map(|(exp, iat)| exp.saturating_sub(iat.unwrap_or_else(now_secs)));
        s.token = token;
        s.generation += 1;
    }

    pub fn set_source(&self, source: TokenSource) {
        if let TokenSource::PrivateKey(k) = &source {
            if self.is_closed() {
                return;
            }
            self.remember(k.clone());
        }
        *self.source.write().unwrap_or_else(|p| p.into_inner()) = source;
    }

    /// Adds a secret to the redaction list (a one-off `login` key, a stored token).
    pub fn remember(&self, secret: Arc<str>) {
        let mut held = lock(&self.held);
        if held.iter().any(|h| *h == secret) {
            return;
        }
        if held.len() >= HELD_SECRETS {
            held.pop_front();
        }
        held.push_back(secret);
    }

    /// Drops the token, the token source and every remembered secret, for good.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        *self.source.write().unwrap_or_else(|p| p.into_inner()) = TokenSource::Manual;
        self.set_token(None);
        lock(&self.held).clear();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn source(&self) -> TokenSource {
        self.source.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn has_token(&self) -> bool {
        lock(&self.state).token.is_some()
    }

    /// Every secret to redact from error texts: the current ones and those held recently.
    pub fn secrets(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = lock(&self.held).iter().cloned().collect();
        v.extend(lock(&self.state).token.iter().cloned());
        if let TokenSource::PrivateKey(k) = self.source() {
            v.push(k);
        }
        v
    }

    /// The current token if it is usable for `skew` more: `Err(generation)` when it is not.
    pub fn fresh(&self, skew: Duration) -> Result<Token, u64> {
        let s = lock(&self.state);
        match &s.token {
            Some(t) if !expires_within(s.exp, effective_skew(skew, s.lifetime)) => Ok(Token {
                value: t.clone(),
                generation: s.generation,
            }),
            _ => Err(s.generation),
        }
    }

    /// The current token, stale or not (for clients without a token source).
    pub fn current(&self) -> Option<Token> {
        let s = lock(&self.state);
        s.token.as_ref().map(|t| Token {
            value: t.clone(),
            generation: s.generation,
        })
    }

    pub fn generation(&self) -> u64 {
        lock(&self.state).generation
    }

    /// A token for the next request: the stored one while it is fresh for `skew` more, or a new
    /// one from `fetch` (see [`Auth::refresh`]). Without a token source, the stored one as it is.
    pub async fn token<F, Fut>(&self, skew: Duration, fetch: F) -> Result<Token, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, Error>>,
    {
        if matches!(self.source(), TokenSource::Manual) {
            return self.current().ok_or_else(no_token);
        }
        match self.fresh(skew) {
            Ok(t) => Ok(t),
            Err(generation) => self.refresh(generation, fetch).await,
        }
    }

    /// Replaces the token of generation `stale`, single flight: the first caller becomes the
    /// leader and runs `fetch`; everyone who needs a token meanwhile waits for the leader's
    /// outcome, success or failure. If the leader's call is dropped (aborted, closed), the
    /// waiters elect a new one. A token newer than `stale` is used as it is.
    pub async fn refresh<F, Fut>(&self, stale: u64, fetch: F) -> Result<Token, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, Error>>,
    {
        let mut fetch = Some(fetch);
        loop {
            // Decide under the lock, act after releasing it (a std guard must not cross an await).
            let role = {
                let mut flight = lock(&self.flight);
                match (self.generation() != stale, self.current(), flight.as_ref()) {
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
                    let landing = FlightLanding(self);
                    let fetched = match fetch.take() {
                        Some(f) => f().await,
                        None => Err(ErrorKind::Internal("a refresh leader ran twice".into()).into()),
                    };
                    let result = fetched.and_then(|t| {
                        self.set_token(Some(t));
                        self.current().ok_or_else(|| ErrorKind::ClientClosed.into())
                    });
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
}

fn no_token() -> Error {
    ErrorKind::Api {
        code: "unauthorized".into(),
        message: "no session token: call setToken() or login(), or configure privateKey or onTokenRefresh".into(),
        http_status: 401,
    }
    .into()
}

/// A caller's part in a token refresh.
enum Role {
    Done(Token),
    Wait(tokio::sync::watch::Receiver<Option<FlightResult>>),
    Lead(tokio::sync::watch::Sender<Option<FlightResult>>),
}

/// Clears the in-flight refresh marker when the leader finishes or is dropped.
struct FlightLanding<'a>(&'a Auth);

impl Drop for FlightLanding<'_> {
    fn drop(&mut self) {
        *lock(&self.0.flight) = None;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn effective_skew(skew: Duration, lifetime: Option<u64>) -> Duration {
    match lifetime {
        Some(l) => skew.min(Duration::from_secs(l / 2)),
        None => skew,
    }
}

fn expires_within(exp: Option<u64>, skew: Duration) -> bool {
    match exp {
        None => false,
        Some(exp) => exp <= now_secs().saturating_add(skew.as_secs()),
    }
}

/// Reads `exp` (seconds since the epoch) from a JWT payload without verifying the signature:
/// enough to refresh ahead of time. Anything malformed gives `None` ("unknown expiry").
pub fn jwt_expiry(token: &str) -> Option<u64> {
    jwt_claims(token).map(|c| c.0)
}

/// `(exp, iat)` from a JWT payload, unverified.
fn jwt_claims(token: &str) -> Option<(u64, Option<u64>)> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let secs = |k: &str| {
        let n = v.get(k)?;
        n.as_u64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
    };
    Some((secs("exp")?, secs("iat")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", e.encode(br#"{"alg":"HS256"}"#), e.encode(payload))
    }

    #[test]
    fn reads_exp() {
        assert_eq!(jwt_expiry(&jwt(r#"{"exp":1700000000}"#)), Some(1_700_000_000));
        assert_eq!(jwt_expiry(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
    }

    #[test]
    fn tokens_that_cannot_be_a_header_are_refused() {
        assert!(check_token("eyJa.eyJb.sig-_~+/=").is_ok());
        for (bad, why) in [
            ("", "empty"),
            ("abc\n", "line break"),
            ("a\r\nX: y", "line break"),
            ("a\0b", "control"),
            ("a b", "whitespace"),
            ("tok\u{e9}n", "non-ASCII"),
        ] {
            let e = check_token(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
            assert!(bad.is_empty() || !e.contains(bad), "the reason never quotes the token");
        }
        assert!(check_token(&"x".repeat(MAX_TOKEN_BYTES + 1))
            .unwrap_err()
            .contains("limit"));
    }

    #[test]
    fn secrets_are_remembered_until_close() {
        let a = Auth::default();
        for i in 0..(HELD_SECRETS + 10) {
            a.set_token(Some(format!("token-{i}")));
        }
        let s = a.secrets();
        assert!(s.iter().any(|t| &**t == "token-10"), "the oldest kept");
        assert!(!s.iter().any(|t| &**t == "token-9"), "the ring is bounded");
        a.close();
        assert!(a.secrets().is_empty());
        a.set_token(Some("late".into()));
        a.set_source(TokenSource::PrivateKey("sk".into()));
        assert!(
            !a.has_token() && a.secrets().is_empty(),
            "a closed client stores nothing"
        );
    }

    #[test]
    fn freshness_uses_skew() {
        let a = Auth::default();
        assert!(a.fresh(Duration::from_secs(60)).is_err());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        // A 15-minute token 30 s from exp: stale under a 60 s skew, fresh under 10 s.
        a.set_token(Some(jwt(&format!(r#"{{"iat":{},"exp":{}}}"#, now - 870, now + 30))));
        assert!(a.fresh(Duration::from_secs(60)).is_err());
        assert!(a.fresh(Duration::from_secs(10)).is_ok());
        // A 4-second token just issued: the skew shrinks to half its lifetime, so it is fresh.
        a.set_token(Some(jwt(&format!(r#"{{"iat":{now},"exp":{}}}"#, now + 4))));
        assert!(a.fresh(Duration::from_secs(60)).is_ok());
        a.set_token(Some("opaque".into()));
        assert!(a.fresh(Duration::from_secs(60)).is_ok());
    }
}
