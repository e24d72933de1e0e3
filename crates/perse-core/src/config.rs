//! Client configuration: defaults, environment, and the base-URL safety rule.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::prepare::PrepareOptions;
use crate::retry::RetryPolicy;

/// Production API root; every path is relative to it.
pub const DEFAULT_BASE_URL: &str = "https://api.getperse.com/v0";
/// Largest success body read, by default: a detect result with thousands of faces or an
/// enrollment list of a hundred thousand users fits many times over.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Error bodies are read up to this many bytes; the rest is dropped with the connection.
pub const MAX_ERROR_BODY_BYTES: u64 = 256 * 1024;

/// Everything a [`crate::Client`] needs to know. Cheap to clone; swapped whole on `configure`.
#[derive(Clone)]
pub struct Config {
    /// API root without a trailing slash, e.g. `https://api.getperse.com/v0`.
    pub base_url: String,
    /// Per-attempt time limit.
    pub timeout: Duration,
    /// Sent as `User-Agent` on every request.
    pub user_agent: String,
    /// How failed attempts are repeated.
    pub retry: RetryPolicy,
    /// Refresh a token this long before its `exp`.
    pub refresh_skew: Duration,
    /// What happens to images before upload: the mode and its limits (incl. the upload limit).
    pub prepare: PrepareOptions,
    /// Success bodies larger than this are refused with `response_too_large`.
    pub max_response_bytes: u64,
    /// Accept `http://` off loopback (a docker-compose test setup). Unsafe for real tokens:
    /// they would cross the network in clear text.
    pub allow_insecure_http: bool,
    /// More root certificates to trust (a PEM bundle), on top of the bundled roots, the OS
    /// store and `NODE_EXTRA_CA_CERTS`: a corporate proxy's or a test server's private CA.
    pub ca: Option<std::sync::Arc<str>>,
    /// Extra headers for every request (the `headers` option, checked by
    /// [`crate::check_headers`]); a call's own override them by name.
    pub headers: Option<std::sync::Arc<crate::Headers>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: DEFAULT_BASE_URL.to_string(),
            timeout: Duration::from_secs(30),
            user_agent: format!("perse-core/{}", env!("CARGO_PKG_VERSION")),
            retry: RetryPolicy::default(),
            refresh_skew: Duration::from_secs(60),
            prepare: PrepareOptions::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_insecure_http: false,
            ca: None,
            headers: None,
        }
    }
}

impl Config {
    /// Defaults with `PERSE_BASE_URL` applied when set (for Rust users; the Node facade reads
    /// `process.env` itself, because worker threads have their own copy of it).
    pub fn from_env() -> Result<Self> {
        let mut c = Config::default();
        if let Ok(url) = std::env::var("PERSE_BASE_URL") {
            if !url.is_empty() {
                c.base_url = url;
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Normalises and checks the config. Plain `http://` is allowed only on loopback, so a
    /// token can never cross a network in clear text.
    pub fn validate(&mut self) -> Result<()> {
        self.base_url = normalize_base_url(&self.base_url, self.allow_insecure_http)?;
        if self.timeout.is_zero() {
            return Err(Error::invalid("timeoutMs must be a positive number of milliseconds"));
        }
        if self.prepare.max_upload_bytes == 0 {
            return Err(Error::invalid("maxUploadBytes must be a positive number"));
        }
        if self.max_response_bytes == 0 {
            return Err(Error::invalid("maxResponseBytes must be a positive number"));
        }
        if let Some(pem) = &self.ca {
            crate::transport::pem_certificates(pem.as_bytes()).map_err(|why| Error::invalid(format!("ca {why}")))?;
        }
        Ok(())
    }

    /// For a 404: a hint when the base URL has no API version (`https://host` for
    /// `https://host/v0`), the usual cause.
    pub fn not_found_hint(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base_url).ok()?;
        let last = url.path_segments()?.rfind(|s| !s.is_empty()).unwrap_or("");
        let versioned = last.len() > 1 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit());
        (!versioned).then(|| {
            format!(
                "the base URL {} has no API version: did you mean {}/v0?",
                self.base_url, self.base_url
            )
        })
    }

    /// Whether the base URL is on this machine: such calls never go through a proxy.
    pub fn is_loopback(&self) -> bool {
        reqwest::Url::parse(&self.base_url).is_ok_and(|u| is_loopback(&u))
    }
}

/// Returns the base URL without a trailing slash, or `invalid_argument`. `http://` is refused
/// off loopback unless `allow_insecure_http`.
pub fn normalize_base_url(raw: &str, allow_insecure_http: bool) -> Result<String> {
    let url =
        reqwest::Url::parse(raw.trim()).map_err(|e| Error::invalid(format!("baseUrl is not a valid URL ({e})")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid("baseUrl must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid("baseUrl must not embed credentials"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) || allow_insecure_http => {}
        "http" => {
            return Err(Error::invalid(
                "baseUrl must use https:// (plain http:// is allowed only for localhost, 127.0.0.0/8 and ::1, \
                 or with allowInsecureHttp: true, which sends tokens in clear text)",
            ))
        }
        other => return Err(Error::invalid(format!("baseUrl scheme must be https, not '{other}'"))),
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// `localhost` (and `*.localhost`, RFC 6761), 127.0.0.0/8 and ::1.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize_base_url_t(raw: &str) -> Result<String> {
        normalize_base_url(raw, false)
    }

    #[test]
    fn insecure_http_only_when_asked_and_404_hints() {
        assert!(normalize_base_url("http://perse-local:8080/v0", false).is_err());
        assert_eq!(
            normalize_base_url("http://perse-local:8080/v0/", true).unwrap(),
            "http://perse-local:8080/v0"
        );
        let c = |u: &str| Config {
            base_url: u.into(),
            ..Config::default()
        };
        assert!(c("https://api.getperse.com")
            .not_found_hint()
            .unwrap()
            .contains("did you mean https://api.getperse.com/v0?"));
        assert!(c("https://api.getperse.com/v0").not_found_hint().is_none());
        assert!(c("https://x.test/perse/v12").not_found_hint().is_none());
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            normalize_base_url_t("https://api.getperse.com/v0/").unwrap(),
            "https://api.getperse.com/v0"
        );
        assert!(normalize_base_url_t("http://127.0.0.1:8080/v0").is_ok());
        assert!(normalize_base_url_t("http://127.9.9.9/v0").is_ok());
        assert!(normalize_base_url_t("http://[::1]:3000/v0").is_ok());
        assert!(normalize_base_url_t("http://localhost/v0").is_ok());
        assert!(normalize_base_url_t("http://api.localhost:8080/v0").is_ok());
        for bad in [
            "http://api.getperse.com/v0",
            "http://10.0.0.1/v0",
            "ftp://x/v0",
            "nonsense",
            "https://a/v0?x=1",
        ] {
            let e = normalize_base_url_t(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_argument", "{bad}");
        }
    }
}
