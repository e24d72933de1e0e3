//! The network seam: one HTTP exchange and what it ended as. The request loop
//! (`executor.rs`) sees only the [`Transport`] trait, so tests can swap the network for a
//! scripted one; [`HttpTransport`] is the real one, on reqwest with rustls.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::Method;

use crate::error::{Error, ErrorKind, Result};
use crate::retry::parse_retry_after;

/// A request body, kept as `Bytes` so a retry resends it without copying.
#[derive(Clone)]
pub enum Body {
    Empty,
    Json(Bytes),
    Multipart {
        content_type: String,
        body: crate::multipart::MultipartBody,
    },
}

/// Everything needed to (re)send one call: the executor rebuilds the exchange from it for
/// every attempt.
#[derive(Clone)]
pub struct Request {
    pub method: Method,
    /// Path under the base URL, starting with `/`.
    pub path: String,
    pub body: Body,
    /// Safe to send twice (everything but enrollment create/update).
    pub idempotent: bool,
}

/// Size limits for one response.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest 2xx body accepted.
    pub success: u64,
    /// Error bodies are cut here (they only feed an error message).
    pub error: u64,
}

/// One attempt as the transport sends it.
pub struct Exchange<'a> {
    pub request: &'a Request,
    /// The full URL (base URL + path).
    pub url: String,
    pub user_agent: &'a str,
    /// Sent as `Authorization: Bearer <token>`; already checked to be a valid header value.
    pub token: Option<&'a str>,
    pub limits: Limits,
    /// The URL is on this machine: send it directly, never through a proxy.
    pub direct: bool,
    /// Sent as `X-Request-Id`: the same for every attempt of one call, so logs (and the local
    /// server's `reachCaller` faults) can tell a retry from a new call.
    pub call: &'a str,
    /// Extra headers, sent after the SDK's own: the client's, then the call's (which replace
    /// the client's of the same name). Already checked (`check_headers`).
    pub headers: [Option<&'a crate::Headers>; 2],
    /// Extra root certificates (PEM) to trust for this URL: the client's `ca` option.
    pub ca: Option<&'a std::sync::Arc<str>>,
}

/// How one attempt ended.
#[derive(Debug)]
pub enum Attempt {
    /// A complete response.
    Response {
        status: u16,
        retry_after: Option<Duration>,
        body: Bytes,
        /// The server's id for the request (see [`server_request_id`]).
        request_id: Option<String>,
    },
    /// The connection was never made: the server cannot have seen the request.
    ConnectFailed(String),
    /// Sent (maybe partly) but no complete response: reset, truncated, or protocol error.
    Broken {
        message: String,
        reset: bool,
        status: Option<u16>,
    },
    /// A success body over the size limit (read no further).
    TooLarge {
        status: u16,
        limit: u64,
        request_id: Option<String>,
    },
    /// The request could not be built: nothing was sent, and sending again cannot help.
    Local(String),
}

/// The future a [`Transport`] returns.
pub type AttemptFuture<'a> = Pin<Box<dyn Future<Output = Attempt> + Send + 'a>>;

/// Sends one HTTP exchange. Implementations must honour the limits and never panic.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, exchange: Exchange<'a>) -> AttemptFuture<'a>;
}

/// The real network: reqwest with rustls, no redirects, one process-wide set of connection
/// pools ([`HttpTransport::shared`]), one per route: proxied or not, plain http or TLS, and the
/// extra roots (`ca`) a TLS pool trusts.
///
/// - **Proxies.** One kind of pool honours `HTTP(S)_PROXY`/`NO_PROXY`, the other never uses a
///   proxy, for loopback base URLs (curl's rule for `localhost`), so a proxy never sees a local
///   server's traffic: a private key in a `/login` body, or a bearer token.
/// - **Trust, as Node's `https` does, and more.** A TLS pool trusts the bundled Mozilla roots,
///   the OS trust store (except on macOS, whose keychain needs Apple's frameworks: there, use
///   the two below), the PEM file named by `NODE_EXTRA_CA_CERTS`, and the client's `ca` option,
///   so a TLS-inspecting corporate proxy's CA can be added as for any Node program.
#[derive(Default)]
pub struct HttpTransport {
    pools: std::sync::RwLock<Vec<(Route, reqwest::Client)>>,
}

/// What a pool is for.
#[derive(Clone, PartialEq, Eq)]
struct Route {
    direct: bool,
    tls: bool,
    ca: Option<std::sync::Arc<str>>,
}

/// The certificates of `NODE_EXTRA_CA_CERTS`, read once per process (as Node reads it once, at
/// start-up); why not, when the variable names a file that cannot be used.
fn node_extra_ca_certs() -> std::result::Result<&'static [reqwest::Certificate], String> {
    static CERTS: OnceLock<std::result::Result<Vec<reqwest::Certificate>, String>> = OnceLock::new();
    CERTS
        .get_or_init(|| {
            let Some(path) = std::env::var_os("NODE_EXTRA_CA_CERTS").filter(|p| !p.is_empty()) else {
                return Ok(Vec::new());
            };
            let shown = std::path::Path::new(&path).display().to_string();
            let pem = std::fs::read(&path).map_err(|e| format!("NODE_EXTRA_CA_CERTS ({shown}) cannot be read: {e}"))?;
            pem_certificates(&pem).map_err(|why| format!("NODE_EXTRA_CA_CERTS ({shown}) {why}"))
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// The certificates of a PEM bundle; why not, when it holds none.
pub fn pem_certificates(pem: &[u8]) -> std::result::Result<Vec<reqwest::Certificate>, String> {
    match reqwest::Certificate::from_pem_bundle(pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()),
        Err(e) => Err(format!("is not a valid PEM certificate bundle: {e}")),
    }
}

impl HttpTransport {
    /// The process's transport: every client shares its connection pools, as undici's global
    /// dispatcher serves every `fetch`. A client is then only credentials and options, and a
    /// client per request (never closed) costs what one client costs: no sockets of its own,
    /// no connection setup per client. Weak: the pools go with the last client.
    pub fn shared() -> std::sync::Arc<HttpTransport> {
        static SHARED: std::sync::Mutex<std::sync::Weak<HttpTransport>> = std::sync::Mutex::new(std::sync::Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = shared.upgrade() {
            return t;
        }
        let t = std::sync::Arc::new(HttpTransport::default());
        *shared = std::sync::Arc::downgrade(&t);
        t
    }

    /// Builds the pool that a client with this base URL and `ca` calls for (at construction and
    /// `configure`, so a build failure, such as an unusable `NODE_EXTRA_CA_CERTS`, is an error
    /// there rather than a failed call).
    pub fn warm(&self, direct: bool, base_url: &str, ca: Option<&std::sync::Arc<str>>) -> Result<()> {
        self.client(&Route {
            direct,
            tls: base_url.starts_with("https:"),
            ca: ca.cloned(),
        })
        .map(drop)
    }

    fn client(&self, route: &Route) -> Result<reqwest::Client> {
        let found = |pools: &[(Route, reqwest::Client)]| pools.iter().find(|(r, _)| r == route).map(|(_, c)| c.clone());
        if let Some(c) = found(&self.pools.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(c);
        }
        let fail = |e: String| Error::from(ErrorKind::Internal(format!("cannot build the HTTP client: {e}")));
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60));
        if route.direct {
            b = b.no_proxy();
        }
        if route.tls {
            for cert in node_extra_ca_certs().map_err(Error::invalid)? {
                b = b.add_root_certificate(cert.clone());
            }
            if let Some(pem) = &route.ca {
                for cert in pem_certificates(pem.as_bytes()).map_err(|why| Error::invalid(format!("ca {why}")))? {
                    b = b.add_root_certificate(cert);
                }
            }
        } else {
            // Plain http (a local server): no TLS, so no roots to load.
            b = b.tls_built_in_root_certs(false);
        }
        let built = b.build().map_err(|e| match route.tls {
            // A PEM block that parses but holds no usable certificate fails here.
            true => Error::invalid(format!(
                "a certificate of ca or NODE_EXTRA_CA_CERTS cannot be used: {}",
                describe(&e)
            )),
            false => fail(e.to_string()),
        })?;
        let mut pools = self.pools.write().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = found(&pools) {
            return Ok(c);
        }
        pools.push((route.clone(), built.clone()));
        Ok(built)
    }
}

impl Transport for HttpTransport {
    fn send<'a>(&'a self, x: Exchange<'a>) -> AttemptFuture<'a> {
        Box::pin(async move {
            let route = Route {
                direct: x.direct,
                tls: x.url.starts_with("https:"),
                ca: x.ca.cloned(),
            };
            match self.client(&route) {
                Ok(http) => send(&http, x).await,
                Err(e) => Attempt::Local(e.to_string()),
            }
        })
    }
}

async fn send(http: &reqwest::Client, x: Exchange<'_>) -> Attempt {
    let req = x.request;
    let mut rb = http
        .request(req.method.clone(), x.url)
        .header(reqwest::header::USER_AGENT, x.user_agent)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(crate::headers::REQUEST_ID_HEADER, x.call);
    // Each set replaces the headers of the same names: the call's win over the client's. A
    // call's X-Request-Id is already `x.call`.
    for extra in x.headers.into_iter().flatten() {
        rb = rb.headers(extra.clone());
    }
    if let Some(t) = x.token {
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
        Err(e) if e.is_builder() => return Attempt::Local(describe(&e)),
        Err(e) if e.is_connect() => return Attempt::ConnectFailed(describe(&e)),
        Err(e) => {
            return Attempt::Broken {
                message: describe(&e),
                reset: true,
                status: None,
            }
        }
    };
    read_response(resp, x.limits).await
}

/// Reads the body within the limits: a success body over its limit is refused as soon as its
/// `Content-Length` or its running size says so; an error body is cut at its limit.
async fn read_response(mut resp: reqwest::Response, limits: Limits) -> Attempt {
    let status = resp.status().as_u16();
    let request_id = server_request_id(resp.headers());
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let success = (200..300).contains(&status);
    let limit = if success { limits.success } else { limits.error };
    if success && resp.content_length().is_some_and(|n| n > limit) {
        return Attempt::TooLarge {
            status,
            limit,
            request_id,
        };
    }
    let mut body = BytesMut::with_capacity(resp.content_length().unwrap_or(0).min(limit).min(1 << 20) as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = (limit - body.len() as u64) as usize;
                if chunk.len() > room {
                    if success {
                        return Attempt::TooLarge {
                            status,
                            limit,
                            request_id,
                        };
                    }
                    body.extend_from_slice(&chunk[..room]);
                    break; // an error body is only a message: keep its start
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Attempt::Broken {
                    message: describe(&e),
                    reset: has_io_kind(&e, std::io::ErrorKind::ConnectionReset),
                    status: Some(status),
                }
            }
        }
    }
    Attempt::Response {
        status,
        retry_after,
        body: body.freeze(),
        request_id,
    }
}

/// Response headers that carry a server's id for a request, in the order they are looked for:
/// the common `X-Request-Id`, then AWS API Gateway's and S3's, then `Request-Id`.
pub const SERVER_REQUEST_ID_HEADERS: &[&str] = &["x-request-id", "x-amzn-requestid", "x-amz-request-id", "request-id"];

/// The server's id for the request, from the first of [`SERVER_REQUEST_ID_HEADERS`] that holds
/// 1 to 200 printable ASCII characters (anything else is ignored, never shown).
pub fn server_request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    SERVER_REQUEST_ID_HEADERS.iter().find_map(|name| {
        let v = headers.get(*name)?.to_str().ok()?;
        let ok = !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| (0x21..0x7f).contains(&b));
        ok.then(|| v.to_string())
    })
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
