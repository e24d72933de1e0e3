//! Options objects as JS passes them, and their conversion to core settings. Every options
//! object of this addon is declared here, in one `js_options!`: its keys and JS types (which
//! `lib/args.js` checks, so it can name the parameter), its doc lines (binding.d.ts) and the
//! range of each numeric option, written once on the field and checked by the generated
//! `check()` before anything is converted. An option shared by two objects (`timeoutMs` of a
//! client and of a call) has the one range of its first declaration. No conversion can panic:
//! every number is checked before it becomes a `Duration` or a count.

use std::time::Duration;

use napi_derive::napi;
use perse_core::{
    CallOptions as CoreCallOptions, Config, Error, PrepareMode, PrepareOptions as CorePrepareOptions, Result,
};
use perse_napi_edge::{js_options, spec_list};

/// A checked millisecond option as a `Duration`.
fn millis(ms: f64) -> Duration {
    Duration::from_millis(ms as u64)
}

/// A checked count option (bytes, pixels, attempts) as an integer of type `T`: a range wider
/// than `T` (4 GiB on a 32-bit `usize`) is refused, not wrapped.
fn count<T: TryFrom<u64>>(name: &str, v: f64) -> Result<T> {
    T::try_from(v as u64).map_err(|_| Error::invalid(format!("options.{name} is out of range on this platform")))
}

js_options! {
    /// Settings of a `PerseClient` (all optional).
    #[napi(object)]
    pub struct ClientOptions [CLIENT_KEYS] {
        /// API root; default `https://api.getperse.com/v0` (the default client reads env `PERSE_BASE_URL`). `http://` only on loopback.
        base_url: Option<String>,
        /// A session token (JWT) to start with, as `setToken` would store it.
        token: Option<String>,
        /// Per-attempt time limit in milliseconds ({range}); default 30000.
        #[number(1 ..= 86_400_000, "milliseconds")]
        timeout_ms: Option<f64>,
        /// `User-Agent` header; default `perse-node/<version>`.
        user_agent: Option<String>,
        /// Extra attempts for failures that are safe to repeat ({range}); default 2.
        #[integer(0 ..= 20)]
        max_retries: Option<f64>,
        /// First backoff window in milliseconds ({range}); default 500 (jittered, doubling, capped by `retryMaxDelayMs`).
        #[number(0 ..= 3_600_000, "milliseconds")]
        retry_base_delay_ms: Option<f64>,
        /// Largest backoff window in milliseconds ({range}); default 8000.
        #[number(0 ..= 3_600_000, "milliseconds")]
        retry_max_delay_ms: Option<f64>,
        /// Private key: the client logs in by itself on first use and whenever the token is stale.
        private_key: Option<String>,
        /// Refresh this many seconds before the token's `exp` ({range}); default 60.
        #[number(0 ..= 86_400, "seconds")]
        refresh_skew_seconds: Option<f64>,
        /// Upload limit in bytes ({range}), checked before sending; default 1000000.
        #[integer(1 ..= 1_073_741_824, "bytes")]
        max_upload_bytes: Option<f64>,
        /// `'fit'` refuses inputs over this many bytes ({range}) before reading them; default 50000000.
        #[integer(1 ..= 4_294_967_296, "bytes")]
        max_input_bytes: Option<f64>,
        /// Image preparation before upload: `'auto'` (default: an upright JPEG or PNG under `maxUploadBytes` goes byte for byte, anything else is oriented, converted or shrunk into a JPEG under it), `'fit'` (the same) or `'validate'` (send unchanged, or refuse).
        #[napi(ts_type = "'validate' | 'fit' | 'auto'")]
        prepare: Option<String>,
        /// Images declaring more pixels ({range}) are refused from their header; default 40000000.
        #[integer(1 ..= 1_000_000_000, "pixels")]
        max_pixels: Option<f64>,
        /// Success bodies larger than this many bytes ({range}) are refused with `response_too_large`; default 16777216.
        #[integer(1 ..= 4_294_967_296, "bytes")]
        max_response_bytes: Option<f64>,
        /// Accept a plain `http://` base URL off loopback (a docker-compose test setup; env `PERSE_ALLOW_INSECURE_HTTP=1`). Unsafe for real tokens: they cross the network in clear text. Default false.
        allow_insecure_http: Option<bool>,
        /// More root certificates to trust, as PEM text (a corporate proxy's or a test server's private CA; `fs.readFileSync(path, 'utf8')`), on top of the bundled roots, the OS trust store and `NODE_EXTRA_CA_CERTS`.
        ca: Option<String>,
        /// Extra headers for every request, `{ name: value }`: printable ASCII, no line breaks, at most 32 headers and 16 KiB; never `Authorization`, `Content-Type`, `Content-Length`, `Transfer-Encoding`, `Host`, `Connection` or `X-Request-Id`. A call's `headers` override these by name.
        #[napi(ts_type = "Record<string, string>")]
        headers: Option<std::collections::HashMap<String, String>>,
    }

    /// Per-call settings.
    #[napi(object)]
    pub struct CallOptions [CALL_KEYS] {
        /// The end user consented to biometric processing. Required (`true`) on every biometric call.
        enduser_consent: Option<bool>,
        /// Per-attempt time limit in milliseconds for this call ({range}).
        timeout_ms: Option<f64>,
        /// Extra attempts for this call ({range}).
        max_retries: Option<f64>,
        /// Image preparation for this call (overrides the client's).
        #[napi(ts_type = "'validate' | 'fit' | 'auto'")]
        prepare: Option<String>,
        /// Extra headers for this call's requests, as the client's `headers` (which they override by name); `X-Request-Id` sets the call's id.
        #[napi(ts_type = "Record<string, string>")]
        headers: Option<std::collections::HashMap<String, String>>,
    }

    /// Options of `prepareImage`.
    #[napi(object)]
    pub struct PrepareOptions [PREPARE_KEYS] {
        /// `'auto'` (default) and `'fit'` pass an upright JPEG or PNG under the limit through and convert, orient or shrink anything else; `'validate'` checks and passes the bytes through.
        #[napi(ts_type = "'validate' | 'fit' | 'auto'")]
        prepare: Option<String>,
        /// Upload limit in bytes ({range}); default 1000000.
        max_upload_bytes: Option<f64>,
        /// Images declaring more pixels ({range}) are refused from their header; default 40000000.
        max_pixels: Option<f64>,
        /// `'fit'` re-encodes to at most this many pixels on the longer side ({range}); default 1600.
        #[integer(16 ..= 16_384, "pixels")]
        max_dimension: Option<f64>,
        /// `'fit'` JPEG quality ({range}); default 85.
        #[integer(1 ..= 100)]
        quality: Option<f64>,
        /// `'fit'` refuses inputs over this many bytes ({range}) before reading them; default 50000000.
        max_input_bytes: Option<f64>,
    }
}

/// Each options object's JS keys with their `typeof`, for `lib/args.js`: `[key, type]` pairs.
#[napi(object)]
pub struct OptionSpecs {
    pub client: Vec<Vec<String>>,
    pub call: Vec<Vec<String>>,
    pub prepare_image: Vec<Vec<String>>,
}

/// The keys and types of every options object (see `js_options!`).
#[napi(catch_unwind)]
pub fn option_specs() -> OptionSpecs {
    OptionSpecs {
        client: spec_list(CLIENT_KEYS),
        call: spec_list(CALL_KEYS),
        prepare_image: spec_list(PREPARE_KEYS),
    }
}

/// Longest `ca` bundle accepted: the whole Mozilla bundle is about 220 KB.
const MAX_CA_BYTES: usize = 4 * 1024 * 1024;

impl ClientOptions {
    /// Applies the set fields on top of `base`.
    pub fn apply(&self, mut base: Config) -> Result<Config> {
        self.check()?;
        if let Some(u) = &self.base_url {
            base.base_url = u.clone();
        }
        if let Some(b) = self.allow_insecure_http {
            base.allow_insecure_http = b;
        }
        if let Some(ms) = self.timeout_ms {
            base.timeout = millis(ms);
        }
        if let Some(ua) = &self.user_agent {
            if ua.is_empty() || ua.len() > 512 || ua.chars().any(|c| c.is_control()) {
                return Err(Error::invalid("userAgent must be 1..512 printable characters"));
            }
            base.user_agent = ua.clone();
        }
        if let Some(n) = self.max_retries {
            base.retry.max_retries = count("maxRetries", n)?;
        }
        if let Some(ms) = self.retry_base_delay_ms {
            base.retry.base_delay = millis(ms);
        }
        if let Some(ms) = self.retry_max_delay_ms {
            base.retry.max_delay = millis(ms);
        }
        if let Some(s) = self.refresh_skew_seconds {
            base.refresh_skew = Duration::from_secs_f64(s);
        }
        apply_prepare(
            &mut base.prepare,
            self.prepare.as_deref(),
            self.max_upload_bytes,
            self.max_input_bytes,
            self.max_pixels,
        )?;
        if let Some(n) = self.max_response_bytes {
            base.max_response_bytes = count("maxResponseBytes", n)?;
        }
        if let Some(pem) = &self.ca {
            if pem.len() > MAX_CA_BYTES {
                return Err(Error::invalid(format!("options.ca is over {MAX_CA_BYTES} bytes")));
            }
            base.ca = Some(std::sync::Arc::from(pem.as_str()));
        }
        if let Some(h) = &self.headers {
            let map = perse_core::check_headers(
                h.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                "options.headers",
                false,
            )?;
            base.headers = (!map.is_empty()).then(|| std::sync::Arc::new(map));
        }
        base.validate()?;
        Ok(base)
    }
}

impl CallOptions {
    pub fn to_core(&self) -> Result<CoreCallOptions> {
        self.check()?;
        Ok(CoreCallOptions {
            consent: self.enduser_consent == Some(true),
            timeout: self.timeout_ms.map(millis),
            max_retries: self.max_retries.map(|n| count("maxRetries", n)).transpose()?,
            cancel: None,
            prepare: self.prepare.as_deref().map(prepare_mode).transpose()?,
            headers: match &self.headers {
                Some(h) if !h.is_empty() => Some(std::sync::Arc::new(perse_core::check_headers(
                    h.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    "options.headers",
                    true,
                )?)),
                _ => None,
            },
            log: Default::default(),
            in_refresh: false,
        })
    }
}

impl PrepareOptions {
    /// The core's preparation settings: its defaults (mode `'auto'`) with the set fields.
    pub fn to_core(&self) -> Result<CorePrepareOptions> {
        self.check()?;
        let mut p = CorePrepareOptions::default();
        apply_prepare(
            &mut p,
            self.prepare.as_deref(),
            self.max_upload_bytes,
            self.max_input_bytes,
            self.max_pixels,
        )?;
        if let Some(n) = self.max_dimension {
            p.max_dimension = count("maxDimension", n)?;
        }
        if let Some(q) = self.quality {
            p.quality = count("quality", q)?;
        }
        Ok(p)
    }
}

pub fn prepare_mode(s: &str) -> Result<PrepareMode> {
    PrepareMode::parse(s).ok_or_else(|| {
        Error::invalid(format!(
            "options.prepare must be 'auto', 'fit' or 'validate', not '{}'",
            perse_core::one_line(s, 40)
        ))
    })
}

/// The image-preparation options that a client and `prepareImage` share (already checked),
/// applied to `p`.
fn apply_prepare(
    p: &mut CorePrepareOptions,
    mode: Option<&str>,
    max_upload_bytes: Option<f64>,
    max_input_bytes: Option<f64>,
    max_pixels: Option<f64>,
) -> Result<()> {
    if let Some(n) = max_upload_bytes {
        p.max_upload_bytes = count("maxUploadBytes", n)?;
    }
    if let Some(n) = max_input_bytes {
        p.max_input_bytes = count("maxInputBytes", n)?;
    }
    if let Some(m) = mode {
        p.mode = prepare_mode(m)?;
    }
    if let Some(n) = max_pixels {
        p.max_pixels = count("maxPixels", n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every numeric option of every object, at its bounds and beyond.
    fn extremes(ranges: &[(&str, f64, f64)], check: fn(&str, f64) -> Result<()>) {
        assert!(!ranges.is_empty());
        for &(key, min, max) in ranges {
            for v in [f64::NAN, f64::INFINITY, -1.0, 1e300, f64::MAX, max + 1.0, min - 0.5] {
                assert!(check(key, v).is_err(), "{key} = {v}");
            }
            assert!(check(key, min).is_ok() && check(key, max).is_ok(), "{key}");
        }
    }

    #[test]
    fn every_extreme_is_refused_without_panicking() {
        extremes(ClientOptions::RANGES, ClientOptions::check_one);
        extremes(CallOptions::RANGES, CallOptions::check_one);
        extremes(PrepareOptions::RANGES, PrepareOptions::check_one);
        let o = ClientOptions {
            refresh_skew_seconds: Some(1e300),
            ..Default::default()
        };
        assert_eq!(
            o.apply(Config::default())
                .err()
                .map(|e| e.code().to_string())
                .as_deref(),
            Some("invalid_argument")
        );
    }

    #[test]
    fn a_shared_option_has_one_range() {
        assert_eq!(
            CallOptions::RANGES,
            &[("timeoutMs", 1.0, 86_400_000.0), ("maxRetries", 0.0, 20.0)]
        );
        let call = CallOptions {
            max_retries: Some(2.5),
            ..Default::default()
        };
        let e = call.to_core().err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("options.maxRetries must be an integer between 0 and 20 (got 2.5)")
        );
    }
}
