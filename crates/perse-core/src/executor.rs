//! The request loop shared by every call: a token before each attempt, the per-attempt time
//! limit, retries with backoff or `Retry-After`, one refresh and resend on `401` when the
//! client has a token source, and the mapping of each attempt's end to the next step.
//! Requests are kept as data ([`Request`]), so each retry rebuilds its exchange.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::auth::{check_token, TokenSource};
use crate::client::{CallOptions, Client};
use crate::config::{Config, MAX_ERROR_BODY_BYTES};
use crate::error::{Error, ErrorKind, Result};
use crate::headers::REQUEST_ID_HEADER;
use crate::models::LoginResponse;
use crate::results::AttemptTrace;
use crate::retry::is_retryable_status;
use crate::transport::{Attempt, Body, Exchange, Limits, Request};

type LoginFuture<'a> = Pin<Box<dyn Future<Output = Result<String>> + Send + 'a>>;

/// Counters carried across the attempts of one call.
#[derive(Default)]
struct Progress {
    attempts: u32,
    retries: u32,
}

/// What one attempt saw, for the call's trace.
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    code: Option<String>,
}

impl Seen {
    /// A response came: its status, and the server's id for the request, which becomes the
    /// call's `requestId` (else the id sent stays).
    fn answered(&mut self, status: u16, request_id: Option<&str>, opts: &CallOptions) {
        self.status = Some(status);
        if let Some(id) = request_id {
            opts.log.set_request_id(id);
        }
    }
}

/// What to do after an attempt.
enum Step {
    Done(u16, Bytes),
    Retry(Duration),
    Unauthorized(Error),
    Fail(Error),
}

impl Client {
    /// Runs `req` to completion. `authed` requests carry a bearer token; `/login` does not
    /// (so login never recurses into a token refresh).
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        req: Request,
        opts: &CallOptions,
        authed: bool,
    ) -> Result<T> {
        let cfg = self.config();
        let mut st = Progress::default();
        let mut reauthed = false;
        // One id for every attempt of the call: the caller's own X-Request-Id, else a new one.
        let call = match opts
            .headers
            .as_ref()
            .and_then(|h| h.get(REQUEST_ID_HEADER)?.to_str().ok())
        {
            Some(id) => id.to_string(),
            None => format!("{:016x}", rand::random::<u64>()),
        };
        loop {
            let token = match authed {
                true => Some(
                    self.auth
                        .token(cfg.refresh_skew, || self.fetch_token(&cfg, opts))
                        .await
                        .map_err(|e| e.with_attempts(st.attempts))?,
                ),
                false => None,
            };
            let value = token.as_ref().map(|t| &*t.value);
            let started = std::time::Instant::now();
            let (step, seen) = self.attempt(&cfg, &req, opts, (value, &call), &mut st).await;
            let refresh = authed && !reauthed && !matches!(self.auth.source(), TokenSource::Manual);
            if !opts.in_refresh {
                let next = match &step {
                    Step::Done(..) => "done",
                    Step::Retry(_) => "retry",
                    Step::Unauthorized(_) if refresh => "refresh",
                    Step::Unauthorized(_) | Step::Fail(_) => "fail",
                };
                opts.log.attempt(AttemptTrace {
                    status: seen.status,
                    ms: started.elapsed().as_secs_f64() * 1000.0,
                    code: seen.code,
                    next: next.to_string(),
                });
            }
            match step {
                Step::Done(status, body) => return parse_body(status, &body).map_err(|e| e.with_attempts(st.attempts)),
                Step::Retry(delay) => tokio::time::sleep(delay).await,
                Step::Unauthorized(_) if refresh => {
                    reauthed = true;
                    let stale = token.map_or(0, |t| t.generation);
                    self.auth
                        .refresh(stale, || self.fetch_token(&cfg, opts))
                        .await
                        .map_err(|e| e.with_attempts(st.attempts))?;
                }
                Step::Unauthorized(e) | Step::Fail(e) => return Err(e),
            }
        }
    }

    /// A new token from the token source (the caller stores it).
    async fn fetch_token(&self, cfg: &Config, opts: &CallOptions) -> Result<String> {
        let timeout = opts.timeout.unwrap_or(cfg.timeout);
        match self.auth.source() {
            TokenSource::Manual => Err(ErrorKind::ClientClosed.into()),
            TokenSource::PrivateKey(key) => {
                opts.log.refreshed();
                // The login's attempts are the refresh's, not the call's own.
                let login = CallOptions {
                    in_refresh: true,
                    ..opts.clone()
                };
                self.do_login(&key, &login).await
            }
            TokenSource::Provider(p) => {
                opts.log.refreshed();
                match tokio::time::timeout(timeout, p.fetch_token()).await {
                    Err(_) => Err(Error::refresh_failed(format!(
                        "onTokenRefresh did not settle within {} ms",
                        timeout.as_millis()
                    ))),
                    Ok(Err(msg)) => Err(Error::refresh_failed(msg)),
                    Ok(Ok(t)) => match check_token(&t) {
                        Ok(()) => Ok(t),
                        Err(why) => Err(Error::refresh_failed(format!(
                            "onTokenRefresh returned an unusable token: {why}"
                        ))),
                    },
                }
            }
        }
    }

    /// `POST /login`: a session token for `key` (checked, not stored). Boxed, because a login
    /// can run inside the request loop that needs the token.
    pub(crate) fn do_login<'a>(&'a self, key: &'a str, opts: &'a CallOptions) -> LoginFuture<'a> {
        Box::pin(self.login_once(key, opts))
    }

    async fn login_once(&self, key: &str, opts: &CallOptions) -> Result<String> {
        let body = serde_json::to_vec(&serde_json::json!({ "privateKey": key }))
            .map_err(|e| Error::from(ErrorKind::Internal(e.to_string())))?;
        let req = Request {
            method: Method::POST,
            path: "/login".into(),
            body: Body::Json(body.into()),
            idempotent: true,
        };
        let r: LoginResponse = self.execute(req, opts, false).await.map_err(Error::for_login)?;
        match check_token(&r.token) {
            Ok(()) => Ok(r.token),
            Err(why) => Err(ErrorKind::Unexpected {
                http_status: Some(200),
                message: format!("login returned an unusable token: {why}"),
            }
            .into()),
        }
    }

    /// Sends once and decides what happens next.
    async fn attempt(
        &self,
        cfg: &Config,
        req: &Request,
        opts: &CallOptions,
        (token, call): (Option<&str>, &str),
        st: &mut Progress,
    ) -> (Step, Seen) {
        let timeout = opts.timeout.unwrap_or(cfg.timeout);
        let max_retries = opts.max_retries.unwrap_or(cfg.retry.max_retries);
        st.attempts += 1;
        opts.log
            .sent
            .fetch_max(st.attempts, std::sync::atomic::Ordering::Relaxed);
        opts.log.set_request_id(call);
        let exchange = Exchange {
            request: req,
            url: format!("{}{}", cfg.base_url, req.path),
            user_agent: &cfg.user_agent,
            token,
            limits: Limits {
                success: cfg.max_response_bytes,
                error: MAX_ERROR_BODY_BYTES,
            },
            direct: self.direct(),
            call,
            ca: cfg.ca.as_ref(),
            headers: [cfg.headers.as_deref(), opts.headers.as_deref()],
        };
        let mut seen = Seen::default();
        // (error, worth retrying in principle, safe to resend this request, server's wait)
        let (kind, retryable, resend_ok, wait) =
            match tokio::time::timeout(timeout, self.transport.send(exchange)).await {
                Err(_) => (
                    ErrorKind::Timeout(timeout.as_millis() as u64),
                    true,
                    req.idempotent,
                    None,
                ),
                Ok(Attempt::ConnectFailed(msg)) => (ErrorKind::Network(msg), true, true, None),
                Ok(Attempt::Local(msg)) => (
                    ErrorKind::Internal(format!("the request could not be built: {msg}")),
                    false,
                    false,
                    None,
                ),
                Ok(Attempt::TooLarge {
                    status,
                    limit,
                    request_id,
                }) => {
                    seen.answered(status, request_id.as_deref(), opts);
                    (
                        ErrorKind::ResponseTooLarge {
                            http_status: status,
                            limit,
                        },
                        false,
                        false,
                        None,
                    )
                }
                Ok(Attempt::Broken { message, reset, status }) => {
                    let kind = match (reset, status) {
                        (false, Some(s)) => ErrorKind::Unexpected {
                            http_status: Some(s),
                            message: format!("the HTTP {s} response body was cut short: {message}"),
                        },
                        _ => ErrorKind::Network(message),
                    };
                    seen.status = status;
                    (kind, true, req.idempotent, None)
                }
                Ok(Attempt::Response {
                    status,
                    body,
                    request_id,
                    ..
                }) if (200..300).contains(&status) => {
                    seen.answered(status, request_id.as_deref(), opts);
                    return (Step::Done(status, body), seen);
                }
                Ok(Attempt::Response {
                    status,
                    retry_after,
                    body,
                    request_id,
                }) => {
                    seen.answered(status, request_id.as_deref(), opts);
                    let mut e = Error::from_response(status, &body);
                    if let (404, Some(hint)) = (status, cfg.not_found_hint()) {
                        e = e.with_hint(&hint);
                    }
                    if status == 401 {
                        seen.code = Some(e.code().to_string());
                        return (Step::Unauthorized(e.with_attempts(st.attempts)), seen);
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
        let connect_failed = matches!(kind, ErrorKind::Network(_)) && resend_ok && !req.idempotent;
        let e = Error {
            kind,
            attempts: st.attempts,
            retryable: retryable && (req.idempotent || connect_failed),
        };
        seen.code = Some(e.code().to_string());
        if retryable && resend_ok && st.retries < max_retries {
            let delay = wait.unwrap_or_else(|| cfg.retry.backoff(st.retries));
            st.retries += 1;
            return (Step::Retry(delay), seen);
        }
        (Step::Fail(e), seen)
    }
}

fn parse_body<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if body.is_empty() {
            "is empty".to_string()
        } else {
            format!(
                "is {} and not a valid Perse body ({e})",
                crate::image::describe_text(body)
            )
        };
        ErrorKind::Unexpected {
            http_status: Some(status),
            message: format!("the HTTP {status} response {what}"),
        }
        .into()
    })
}
