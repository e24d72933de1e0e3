//! Session tokens: where new ones come from, when the current one is stale, and the
//! single-flight refresh that makes N concurrent callers wait for one login or callback.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

mod credentials;
mod jwt;
mod refresh;
#[cfg(test)]
mod tests;

pub(crate) use credentials::check_private_key;
pub use credentials::{check_token, MAX_TOKEN_BYTES};
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

#[derive(Default, Clone)]
struct State {
    token: Option<Arc<str>>,
    exp: Option<u64>,
    /// `exp - iat` (or `exp - now` without `iat`): the skew never exceeds half of it, so a
    /// short-lived token is not treated as stale the moment it arrives.
    lifetime: Option<u64>,
    generation: u64,
}

/// A session: a token, its generation, the refresh in flight and the tokens held recently.
/// Each client has its own, except that the clients which log in with one private key at one
/// base URL share one (see [`Session::shared`]): a route handler that makes a client per
/// request then costs one login, not one per client.
#[derive(Default)]
pub(crate) struct Session {
    state: Mutex<State>,
    /// The refresh in progress, if any: waiters subscribe to its outcome.
    flight: Mutex<Option<tokio::sync::watch::Receiver<Option<FlightResult>>>>,
    /// Tokens this session held recently (newest last), for redaction: see [`HELD_SECRETS`].
    held: Mutex<VecDeque<Arc<str>>>,
}

/// The shared sessions, by base URL and private key, with when each was last handed out.
/// Process-wide on purpose, as undici's global dispatcher serves every `fetch` of a realm: a
/// session holds no JS value, so clients in different worker threads may share it too.
static SHARED: Mutex<Vec<Shared>> = Mutex::new(Vec::new());

struct Shared {
    base_url: String,
    key: Arc<str>,
    session: Arc<Session>,
    used: std::time::Instant,
}

/// A session no client uses any more is kept this long after its last use (and never past
/// its token's expiry): a route handler that makes a client per request, whose clients are
/// garbage-collected between requests, still logs in once.
const IDLE_SESSION: Duration = Duration::from_secs(15 * 60);
/// Sessions kept at most; the ones no client uses are dropped first, least recent first.
const MAX_SESSIONS: usize = 256;

impl Session {
    /// The session of every client that logs in with `key` at `base_url`.
    fn shared(base_url: &str, key: &Arc<str>) -> Arc<Session> {
        let mut all = lock(&SHARED);
        let now = std::time::Instant::now();
        let unused = |e: &Shared| Arc::strong_count(&e.session) == 1;
        all.retain(|e| !unused(e) || (now.duration_since(e.used) < IDLE_SESSION && !e.session.expired()));
        if let Some(e) = all.iter_mut().find(|e| e.base_url == base_url && e.key == *key) {
            e.used = now;
            return e.session.clone();
        }
        if all.len() >= MAX_SESSIONS {
            if let Some(i) = (0..all.len()).filter(|i| unused(&all[*i])).min_by_key(|i| all[*i].used) {
                all.swap_remove(i);
            }
        }
        let session = Arc::new(Session::default());
        all.push(Shared {
            base_url: base_url.to_string(),
            key: key.clone(),
            session: session.clone(),
            used: now,
        });
        session
    }

    /// Its token has expired (by the JWT's `exp`).
    fn expired(&self) -> bool {
        lock(&self.state).exp.is_some_and(|exp| exp <= now_secs())
    }

    /// A session of one client's own that starts with `state`.
    fn own(state: State) -> Arc<Session> {
        Arc::new(Session {
            state: Mutex::new(state),
            ..Session::default()
        })
    }

    /// Stores a token (the caller has checked it with [`check_token`]) as a new generation.
    fn store(&self, token: Option<Arc<str>>) {
        if let Some(t) = &token {
            remember(&self.held, t.clone());
        }
        let mut s = lock(&self.state);
        let claims = token.as_deref().and_then(jwt_claims);
        s.exp = claims.map(|c| c.0);
        s.lifetime = claims.map(|(exp, iat)| exp.saturating_sub(iat.unwrap_or_else(now_secs)));
        s.token = token;
        s.generation += 1;
    }

    fn current(&self) -> Option<Token> {
        let s = lock(&self.state);
        s.token.as_ref().map(|t| Token {
            value: t.clone(),
            generation: s.generation,
        })
    }

    fn generation(&self) -> u64 {
        lock(&self.state).generation
    }
}

/// How many past secrets (tokens, private keys) are remembered for redaction. A server may
/// echo an old token in an error long after a refresh; tokens older than this many
/// refreshes (over 15 hours of 15-minute tokens) have long expired.
pub const HELD_SECRETS: usize = 64;

/// Token state of one client. Secrets stay inside; `Debug` is not derived on purpose.
#[derive(Default)]
pub(crate) struct Auth {
    session: RwLock<Arc<Session>>,
    /// The base URL and key of the shared session in use (`None`: the session is this
    /// client's own).
    shared: Mutex<Option<(String, Arc<str>)>>,
    /// A token was given to this client itself (`setToken`, the `token` option, `login()`):
    /// its session stays its own, whatever its token source.
    given: std::sync::atomic::AtomicBool,
    source: RwLock<TokenSource>,
    /// Every private key and one-off login key held recently (newest last), for redaction;
    /// the session keeps its tokens.
    held: Mutex<VecDeque<Arc<str>>>,
    /// Set by `close`: nothing is stored after it, so a closed client holds no secret.
    closed: std::sync::atomic::AtomicBool,
}

/// The outcome a refresh leader publishes to its waiters.
type FlightResult = crate::error::Result<Token>;

/// Adds `secret` to a bounded redaction list.
fn remember(held: &Mutex<VecDeque<Arc<str>>>, secret: Arc<str>) {
    let mut held = lock(held);
    if held.iter().any(|h| *h == secret) {
        return;
    }
    if held.len() >= HELD_SECRETS {
        held.pop_front();
    }
    held.push_back(secret);
}

impl Auth {
    /// The session in use now.
    pub(crate) fn session(&self) -> Arc<Session> {
        self.session.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn use_session(&self, session: Arc<Session>, shared: Option<(String, Arc<str>)>) {
        *self.session.write().unwrap_or_else(|p| p.into_inner()) = session;
        *lock(&self.shared) = shared;
    }

    /// Gives this client a token of its own (or, with `None`, takes it back): its session is
    /// then its own. The caller has checked the token with [`check_token`], and calls
    /// [`Auth::bind`] after clearing it. Ignored once closed: a refresh that lands after
    /// `close` must not leave a token behind.
    pub fn set_token(&self, token: Option<String>) {
        if token.is_some() && self.is_closed() {
            return;
        }
        let given = token.is_some();
        if lock(&self.shared).is_some() {
            let generation = self.session().generation();
            self.use_session(
                Session::own(State {
                    generation,
                    ..State::default()
                }),
                None,
            );
        }
        self.session().store(token.map(Arc::from));
        self.given.store(given, std::sync::atomic::Ordering::SeqCst);
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

    /// Moves the client to the session its token source calls for at `base_url`: the shared
    /// session of its private key there, or a session of its own (carrying the current
    /// token) for any other source. A client given a token keeps its own session.
    pub fn bind(&self, base_url: &str) {
        if self.is_closed() || self.given.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let current = lock(&self.shared).clone();
        match self.source() {
            TokenSource::PrivateKey(k) => {
                if current.as_ref().is_some_and(|(u, c)| u == base_url && *c == k) {
                    return;
                }
                self.use_session(Session::shared(base_url, &k), Some((base_url.to_string(), k)));
            }
            _ if current.is_some() => {
                let state = lock(&self.session().state).clone();
                self.use_session(Session::own(state), None);
            }
            _ => {}
        }
    }

    /// Adds a secret to the redaction list (a one-off `login` key, a private key).
    pub fn remember(&self, secret: Arc<str>) {
        remember(&self.held, secret);
    }

    /// Drops the token, the token source and every remembered secret, for good. A shared
    /// session goes on for its other clients, and for later ones while its token lasts.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        *self.source.write().unwrap_or_else(|p| p.into_inner()) = TokenSource::Manual;
        self.use_session(Arc::default(), None);
        lock(&self.held).clear();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn source(&self) -> TokenSource {
        self.source.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn has_token(&self) -> bool {
        lock(&self.session().state).token.is_some()
    }

    /// Every secret to redact from error texts: the current ones and those held recently.
    pub fn secrets(&self) -> Vec<Arc<str>> {
        let session = self.session();
        let mut v: Vec<Arc<str>> = lock(&self.held).iter().cloned().collect();
        v.extend(lock(&session.held).iter().cloned());
        v.extend(lock(&session.state).token.iter().cloned());
        if let TokenSource::PrivateKey(k) = self.source() {
            v.push(k);
        }
        v
    }

    /// The current token if it is usable for `skew` more: `Err(generation)` when it is not.
    #[cfg(test)]
    pub fn fresh(&self, skew: Duration) -> Result<Token, u64> {
        fresh(&self.session(), skew)
    }

    /// The current token, stale or not (for clients without a token source).
    pub fn current(&self) -> Option<Token> {
        self.session().current()
    }
}

/// `session`'s token if it is usable for `skew` more: `Err(generation)` when it is not.
fn fresh(session: &Session, skew: Duration) -> Result<Token, u64> {
    let s = lock(&session.state);
    match &s.token {
        Some(t) if !expires_within(s.exp, effective_skew(skew, s.lifetime)) => Ok(Token {
            value: t.clone(),
            generation: s.generation,
        }),
        _ => Err(s.generation),
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
