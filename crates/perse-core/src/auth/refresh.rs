//! The single-flight token refresh: N callers that need a new token wait for one login or
//! one call of the application's callback.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{fresh, lock, Auth, FlightResult, Session, Token, TokenSource};
use crate::error::{Error, ErrorKind};

impl Auth {
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
        let session = self.session();
        match fresh(&session, skew) {
            Ok(t) => Ok(t),
            Err(generation) => refresh(&session, generation, fetch).await,
        }
    }

    /// Replaces the token of generation `stale` in the session in use (see [`refresh`]).
    pub async fn refresh<F, Fut>(&self, stale: u64, fetch: F) -> Result<Token, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, Error>>,
    {
        refresh(&self.session(), stale, fetch).await
    }
}

/// Replaces the token of generation `stale` in `session`, single flight: the first caller
/// becomes the leader and runs `fetch`; everyone who needs a token meanwhile (every client of
/// a shared session) waits for the leader's outcome, success or failure. If the leader's call
/// is dropped (aborted, closed, its worker gone), the waiters elect a new one. A token newer
/// than `stale` is used as it is.
async fn refresh<F, Fut>(session: &Session, stale: u64, fetch: F) -> Result<Token, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, Error>>,
{
    let mut fetch = Some(fetch);
    loop {
        // Decide under the lock, act after releasing it (a std guard must not cross an await).
        let role = {
            let mut flight = lock(&session.flight);
            match (session.generation() != stale, session.current(), flight.as_ref()) {
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
                let landing = FlightLanding(session);
                let fetched = match fetch.take() {
                    Some(f) => f().await,
                    None => Err(ErrorKind::Internal("a refresh leader ran twice".into()).into()),
                };
                let result = fetched.and_then(|t| {
                    session.store(Some(Arc::from(t)));
                    session.current().ok_or_else(|| ErrorKind::ClientClosed.into())
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

fn no_token() -> Error {
    ErrorKind::NoCredentials.into()
}

/// A caller's part in a token refresh.
enum Role {
    Done(Token),
    Wait(tokio::sync::watch::Receiver<Option<FlightResult>>),
    Lead(tokio::sync::watch::Sender<Option<FlightResult>>),
}

/// Clears the in-flight refresh marker when the leader finishes or is dropped.
struct FlightLanding<'a>(&'a Session);

impl Drop for FlightLanding<'_> {
    fn drop(&mut self) {
        *lock(&self.0.flight) = None;
    }
}
