//! One HTTP attempt and what it ended as, plus the cancellation token used by `AbortSignal`
//! and `close()`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::Method;

use crate::retry::parse_retry_after;

/// A one-shot cancellation flag that async code can wait on.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<CancelInner>);

#[derive(Default)]
struct CancelInner {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }

    /// Resolves once [`CancelToken::cancel`] has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// A request body, kept as `Bytes` so a retry resends it without copying.
#[derive(Clone)]
pub(crate) enum Body {
    Empty,
    Json(Bytes),
    Multipart {
        content_type: String,
        body: crate::multipart::MultipartBody,
    },
}

/// Everything needed to (re)send one call.
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub body: Body,
    /// Safe to send twice (everything but enrollment create/update).
    pub idempotent: bool,
}

/// How one attempt ended.
pub(crate) enum Attempt {
    /// A complete response.
    Response {
        status: u16,
        retry_after: Option<Duration>,
        body: Bytes,
    },
    /// The connection was never made: the server cannot have seen the request.
    ConnectFailed(String),
    /// Sent (maybe partly) but no complete response: reset, truncated, or protocol error.
    Broken {
        message: String,
        reset: bool,
        status: Option<u16>,
    },
}

pub(crate) async fn send(
    http: &reqwest::Client,
    base_url: &str,
    user_agent: &str,
    req: &Request,
    token: Option<&str>,
) -> Attempt {
    let mut rb = http
        .request(req.method.clone(), format!("{base_url}{}", req.path))
        .header(reqwest::header::USER_AGENT, user_agent)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(t) = token {
        rb = rb.header(reqwest::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    rb = match &req.body {
        Body::Empty => rb,
        Body::Json(b) => rb
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(b.clone()),
        Body::Multipart { content_type, body } => rb
            .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
            .body(reqwest::Body::wrap(body.clone())),
    };
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Attempt::ConnectFailed(describe(&e)),
        Err(e) => {
            return Attempt::Broken {
                message: describe(&e),
                reset: true,
                status: None,
            }
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    match resp.bytes().await {
        Ok(body) => Attempt::Response {
            status,
            retry_after,
            body,
        },
        Err(e) => {
            let reset = has_io_kind(&e, std::io::ErrorKind::ConnectionReset);
            Attempt::Broken {
                message: describe(&e),
                reset,
                status: Some(status),
            }
        }
    }
}

fn has_io_kind(e: &(dyn std::error::Error + 'static), kind: std::io::ErrorKind) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == kind {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// The error chain as one line, without the URL (which is the caller's own and adds noise).
fn describe(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.contains(&s) {
            parts.push(s);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}
