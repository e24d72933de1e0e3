//! `startLocalServer`: the local Perse-compatible server from `crates/perse-local`, run on
//! napi's tokio runtime, with its test controls.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::Error;

use crate::outcome::{fail, spawn, Outcome};

/// How to start the local server.
#[napi(object)]
#[derive(Default)]
pub struct LocalServerOptions {
    /// TCP port; 0 (the default) picks a free one.
    pub port: Option<u32>,
    /// Interface to bind; default `127.0.0.1`. Anything else must be asked for explicitly.
    pub host: Option<String>,
    /// The private key `/login` accepts; default a random `sk_local_...`.
    pub private_key: Option<String>,
    /// Lifetime of issued session tokens in seconds; default 900 (15 minutes, as the API).
    pub token_ttl_seconds: Option<f64>,
    /// The `livenessScore` reported for every face; default 0.9 (there is no liveness model).
    pub liveness_score: Option<f64>,
    /// A connection must send its request headers within this many milliseconds (idle
    /// keep-alive connections are closed after it too); default 30000.
    pub header_timeout_ms: Option<f64>,
    /// Connections served at once; more wait until one closes. Default 512.
    pub max_connections: Option<f64>,
}

/// An answer to give instead of the real one, for the next `times` matching requests.
#[napi(object)]
pub struct FaultSpec {
    /// Path with or without `/v0` (e.g. `/face/detect`); default: any path.
    pub path: Option<String>,
    /// HTTP status to answer with; without it the fault only delays.
    pub status: Option<u32>,
    /// Error code in the JSON body; default derived from the status.
    pub code: Option<String>,
    /// Raw body instead of the JSON error (HTML, truncated JSON...).
    pub body: Option<String>,
    /// Wait this many milliseconds first.
    pub delay_ms: Option<f64>,
    /// How many requests it applies to; default 1.
    pub times: Option<u32>,
}

/// One multipart field as the server saw it (no image bytes).
#[napi(object)]
pub struct RecordedField {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size: u32,
    /// Text value, for non-file fields only.
    pub value: Option<String>,
}

/// One request as the server saw it.
#[napi(object)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub fields: Vec<RecordedField>,
    /// Whether an Authorization header was present (its value is never kept).
    pub has_authorization: bool,
    pub status: u32,
    /// Whether an injected fault produced the answer.
    pub faulted: bool,
}

/// A running local server.
#[napi]
pub struct NativeLocalServer {
    inner: Arc<perse_local::LocalServer>,
}

impl From<perse_local::LocalServer> for NativeLocalServer {
    fn from(s: perse_local::LocalServer) -> Self {
        NativeLocalServer { inner: Arc::new(s) }
    }
}

#[napi]
impl NativeLocalServer {
    /// Base URL to pass as `baseUrl` as it is (ends in `/v0`).
    #[napi(getter, catch_unwind)]
    pub fn url(&self) -> String {
        self.inner.url()
    }

    #[napi(getter, catch_unwind)]
    pub fn port(&self) -> u32 {
        u32::from(self.inner.port())
    }

    /// The private key this server's `/login` accepts.
    #[napi(getter, catch_unwind)]
    pub fn private_key(&self) -> String {
        self.inner.private_key().to_string()
    }

    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[napi(catch_unwind)]
    pub fn inject_fault(&self, fault: FaultSpec) -> Result<()> {
        let status = match fault.status {
            Some(s) if !(100..=599).contains(&s) => {
                return Err(invalid("fault.status must be an HTTP status (100-599)"))
            }
            s => s.map(|s| s as u16),
        };
        let delay = match fault.delay_ms {
            Some(ms) if !ms.is_finite() || !(0.0..=600_000.0).contains(&ms) => {
                return Err(invalid("fault.delayMs must be between 0 and 600000"))
            }
            Some(ms) => Duration::from_millis(ms as u64),
            None => Duration::ZERO,
        };
        if status.is_none() && delay.is_zero() {
            return Err(invalid("a fault needs a status, a delayMs, or both"));
        }
        self.inner.inject_fault(perse_local::Fault {
            path: fault.path,
            status,
            code: fault.code,
            body: fault.body,
            delay,
            times: fault.times.unwrap_or(1),
        });
        Ok(())
    }

    /// Every token issued so far stops working (the next call gets 401 `unauthorized`).
    #[napi(catch_unwind)]
    pub fn expire_tokens(&self) {
        self.inner.expire_tokens();
    }

    /// The requests seen so far, oldest first.
    #[napi(catch_unwind)]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner
            .requests()
            .into_iter()
            .map(|r| RecordedRequest {
                method: r.method,
                path: r.path,
                fields: r
                    .fields
                    .into_iter()
                    .map(|f| RecordedField {
                        name: f.name,
                        filename: f.filename,
                        content_type: f.content_type,
                        size: f.size as u32,
                        value: f.value,
                    })
                    .collect(),
                has_authorization: r.has_authorization,
                status: u32::from(r.status),
                faulted: r.faulted,
            })
            .collect()
    }

    /// Forgets enrollments, faults and the request log.
    #[napi(catch_unwind)]
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// Stops the server; resolves when it has stopped.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn close<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        env.spawn_future(async move {
            inner.close().await;
            Ok(())
        })
    }
}

/// Starts a local Perse-compatible server on loopback.
#[napi(ts_return_type = "Promise<NativeLocalServer | ErrorInfo>", catch_unwind)]
pub fn start_local_server(
    env: &Env,
    options: Option<LocalServerOptions>,
) -> Result<PromiseRaw<'_, Outcome<NativeLocalServer>>> {
    let o = options.unwrap_or_default();
    let opts = match convert(o) {
        Ok(opts) => opts,
        Err(e) => return fail(env, e),
    };
    spawn(env, async move { perse_local::LocalServer::start(opts).await })
}

fn convert(o: LocalServerOptions) -> std::result::Result<perse_local::LocalServerOptions, Error> {
    let mut opts = perse_local::LocalServerOptions::default();
    if let Some(p) = o.port {
        opts.port = u16::try_from(p).map_err(|_| Error::invalid("port must be between 0 and 65535"))?;
    }
    if let Some(h) = o.host {
        opts.host = h;
    }
    opts.private_key = o.private_key;
    if let Some(t) = o.token_ttl_seconds {
        if !t.is_finite() || !(1.0..=86_400.0 * 365.0).contains(&t) {
            return Err(Error::invalid("tokenTtlSeconds must be between 1 and 31536000"));
        }
        opts.token_ttl = Duration::from_secs(t as u64);
    }
    if let Some(l) = o.liveness_score {
        opts.liveness_score = l;
    }
    if let Some(ms) = o.header_timeout_ms {
        if !ms.is_finite() || !(1.0..=3_600_000.0).contains(&ms) {
            return Err(Error::invalid("headerTimeoutMs must be between 1 and 3600000"));
        }
        opts.header_timeout = Duration::from_millis(ms as u64);
    }
    if let Some(n) = o.max_connections {
        if !n.is_finite() || n.fract() != 0.0 || !(1.0..=100_000.0).contains(&n) {
            return Err(Error::invalid("maxConnections must be an integer between 1 and 100000"));
        }
        opts.max_connections = n as usize;
    }
    Ok(opts)
}

fn invalid(msg: &str) -> napi::Error {
    napi::Error::new(Status::InvalidArg, msg)
}
