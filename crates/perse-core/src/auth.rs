//! Session tokens: where new ones come from, when the current one is stale, and the
//! single-flight refresh that makes N concurrent callers wait for one login or callback.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

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

/// Token state of one client. Secrets stay inside; `Debug` is not derived on purpose.
#[derive(Default)]
pub(crate) struct Auth {
    state: Mutex<State>,
    source: RwLock<TokenSource>,
    /// The refresh in progress, if any: waiters subscribe to its outcome.
    flight: Mutex<Option<tokio::sync::watch::Receiver<Option<FlightResult>>>>,
}

/// The outcome a refresh leader publishes to its waiters.
pub(crate) type FlightResult = crate::error::Result<Token>;

impl Auth {
    pub fn set_token(&self, token: Option<String>) {
        let mut s = lock(&self.state);
        let claims = token.as_deref().and_then(jwt_claims);
        s.exp = claims.map(|c| c.0);
        s.lifetime = claims.map(|(exp, iat)| exp.saturating_sub(iat.unwrap_or_else(now_secs)));
        s.token = token.map(Arc::from);
        s.generation += 1;
    }

    pub fn set_source(&self, source: TokenSource) {
        *self.source.write().unwrap_or_else(|p| p.into_inner()) = source;
    }

    pub fn source(&self) -> TokenSource {
        self.source.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn has_token(&self) -> bool {
        lock(&self.state).token.is_some()
    }

    pub fn secrets(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = lock(&self.state).token.iter().cloned().collect();
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

    pub fn flight(&self) -> std::sync::MutexGuard<'_, Option<tokio::sync::watch::Receiver<Option<FlightResult>>>> {
        lock(&self.flight)
    }

    pub fn generation(&self) -> u64 {
        lock(&self.state).generation
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
