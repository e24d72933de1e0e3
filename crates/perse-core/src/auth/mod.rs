//! Session tokens: where new ones come from, when the current one is stale, and the
//! single-flight refresh that makes N concurrent callers wait for one login or callback.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

mod jwt;
mod refresh;
#[cfg(test)]
mod tests;

pub use jwt::jwt_expiry;
use jwt::{effective_skew, expires_within, jwt_claims, now_secs};

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
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
