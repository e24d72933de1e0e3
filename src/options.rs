//! Options objects as JS passes them, and their conversion to core settings. This is the one
//! place where numeric options are checked: `index.js` checks only their JS types (so it can
//! name the parameter), and every range lives in [`LIMITS`], next to the option it bounds.
//! No conversion can panic: every number is checked before it becomes a `Duration` or a count.

use std::time::Duration;

pub(crate) use crate::js_options::js_options;
use napi_derive::napi;
use perse_core::{CallOptions as CoreCallOptions, Config, Error, PrepareMode, PrepareOptions, Result};

/// A numeric option's accepted range. `integer` options also refuse fractions.
pub struct Limit {
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
    pub integer: bool,
    pub unit: &'static str,
}

const fn limit(name: &'static str, min: f64, max: f64, integer: bool, unit: &'static str) -> Limit {
    Limit {
        name,
        min,
        max,
        integer,
        unit,
    }
}

/// Every numeric option, with its range. The option tables in docs/api.md quote these.
pub const LIMITS: &[Limit] = &[
    limit("timeoutMs", 1.0, 86_400_000.0, false, "milliseconds"),
    limit("maxRetries", 0.0, 20.0, true, ""),
    limit("retryBaseDelayMs", 0.0, 3_600_000.0, false, "milliseconds"),
    limit("retryMaxDelayMs", 0.0, 3_600_000.0, false, "milliseconds"),
    limit("refreshSkewSeconds", 0.0, 86_400.0, false, "seconds"),
    limit("maxUploadBytes", 1.0, 1_073_741_824.0, true, "bytes"),
    limit("maxInputBytes", 1.0, 4_294_967_296.0, true, "bytes"),
    limit("maxPixels", 1.0, 1_000_000_000.0, true, "pixels"),
    limit("maxResponseBytes", 1.0, 4_294_967_296.0, true, "bytes"),
    limit("maxDimension", 16.0, 16_384.0, true, "pixels"),
    limit("quality", 1.0, 100.0, true, ""),
];

/// `value` of the option `name`, checked against its [`LIMITS`] entry.
pub fn number(name: &str, value: f64) -> Result<f64> {
    let l = LIMITS
        .iter()
        .find(|l| l.name == name)
        .ok_or_else(|| Error::invalid(format!("unknown numeric option '{name}'")))?;
    if value.is_finite() && value >= l.min && value <= l.max && (!l.integer || value.fract() == 0.0) {
        return Ok(value);
    }
    let kind = if l.integer { "an integer" } else { "a number" };
    let unit = if l.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", l.unit)
    };
    Err(Error::invalid(format!(
        "options.{name} must be {kind} between {} and {}{unit} (got {value})",
        l.min, l.max
    )))
}

fn millis(name: &str, v: f64) -> Result<Duration> {
    Ok(Duration::from_millis(number(name, v)? as u64))
}

/// A count option (bytes, pixels, attempts) as an integer of type `T`.
pub fn count<T: TryFrom<u64>>(name: &str, v: f64) -> Result<T> {
    T::try_from(number(name, v)? as u64).map_err(|_| Error::invalid(format!("{name} is out of range")))
}

js_options! {
    #[doc = "Settings of a `PerseClient` (all optional)."]
    pub struct ClientOptions [CLIENT_KEYS] {
        #[doc = "API root; default `https://api.getperse.com/v0` (the default client reads env `PERSE_BASE_URL`). `http://` only on loopback."]
        "baseUrl" base_url: Option<String>,
        #[doc = "A session token (JWT) to start with, as `setToken` would store it."]
        "token" token: Option<String>,
        #[doc = "Per-attempt time limit in milliseconds (1 to 86400000); default 30000."]
        "timeoutMs" timeout_ms: Option<f64>,
        #[doc = "`User-Agent` header; default `perse-node/<version>`."]
        "userAgent" user_agent: Option<String>,
        #[doc = "Extra attempts for failures that are safe to repeat (0 to 20); default 2."]
        "maxRetries" max_retries: Option<f64>,
        #[doc = "First backoff window in milliseconds (0 to 3600000); default 500 (jittered, doubling, capped by `retryMaxDelayMs`)."]
        "retryBaseDelayMs" retry_base_delay_ms: Option<f64>,
        #[doc = "Largest backoff window in milliseconds (0 to 3600000); default 8000."]
        "retryMaxDelayMs" retry_max_delay_ms: Option<f64>,
        #[doc = "Private key: the client logs in by itself on first use and whenever the token is stale."]
        "privateKey" private_key: Option<String>,
        #[doc = "Refresh this many seconds before the token's `exp` (0 to 86400); default 60."]
        "refreshSkewSeconds" refresh_skew_seconds: Option<f64>,
        #[doc = "Upload limit in bytes, checked before sending; default 1000000."]
        "maxUploadBytes" max_upload_bytes: Option<f64>,
        #[doc = "`'fit'` refuses inputs over this many bytes before reading them; default 50000000."]
        "maxInputBytes" max_input_bytes: Option<f64>,
        #[doc = "Image preparation before upload: `'auto'` (default: an upright JPEG or PNG under `maxUploadBytes` goes byte for byte, anything else is oriented, converted or shrunk into a JPEG under it), `'fit'` (the same) or `'validate'` (send unchanged, or refuse)."]
        #[napi(ts_type = "'validate' | 'fit' | 'auto'")]
        "prepare" prepare: Option<String>,
        #[doc = "Images declaring more pixels are refused from their header; default 40000000."]
        "maxPixels" max_pixels: Option<f64>,
        #[doc = "Success bodies larger than this are refused with `response_too_large`; default 16777216."]
        "maxResponseBytes" max_response_bytes: Option<f64>,
        #[doc = "Accept a plain `http://` base URL off loopback (a docker-compose test setup; env `PERSE_ALLOW_INSECURE_HTTP=1`). Unsafe for real tokens: they cross the network in clear text. Default false."]
        "allowInsecureHttp" allow_insecure_http: Option<bool>,
        #[doc = "More root certificates to trust, as PEM text (a corporate proxy's or a test server's private CA; `fs.readFileSync(path, 'utf8')`), on top of the bundled roots, the OS trust store and `NODE_EXTRA_CA_CERTS`."]
        "ca" ca: Option<String>,
    }
}

js_options! {
    #[doc = "Per-call settings."]
    pub struct CallOptions [CALL_KEYS] {
        #[doc = "The end user consented to biometric processing. Required (`true`) on every biometric call."]
        "enduserConsent" enduser_consent: Option<bool>,
        #[doc = "Per-attempt time limit in milliseconds for this call."]
        "timeoutMs" timeout_ms: Option<f64>,
        #[doc = "Extra attempts for this call."]
        "maxRetries" max_retries: Option<f64>,
        #[doc = "Image preparation for this call (overrides the client's)."]
        #[napi(ts_type = "'validate' | 'fit' | 'auto'")]
        "prepare" prepare: Option<String>,
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
    let list = |keys: &[(&str, &str)]| keys.iter().map(|(k, t)| vec![k.to_string(), t.to_string()]).collect();
    OptionSpecs {
        client: list(CLIENT_KEYS),
        call: list(CALL_KEYS),
        prepare_image: list(crate::prepare::PREPARE_KEYS),
    }
}

/// Longest `ca` bundle accepted: the whole Mozilla bundle is about 220 KB.
const MAX_CA_BYTES: usize = 4 * 1024 * 1024;

impl ClientOptions {
    /// Applies the set fields on top of `base`.
    pub fn apply(&self, mut base: Config) -> Result<Config> {
        if let Some(u) = &self.base_url {
            base.base_url = u.clone();
        }
        if let Some(b) = self.allow_insecure_http {
            base.allow_insecure_http = b;
        }
        if let Some(ms) = self.timeout_ms {
            base.timeout = millis("timeoutMs", ms)?;
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
            base.retry.base_delay = millis("retryBaseDelayMs", ms)?;
        }
        if let Some(ms) = self.retry_max_delay_ms {
            base.retry.max_delay = millis("retryMaxDelayMs", ms)?;
        }
        if let Some(s) = self.refresh_skew_seconds {
            base.refresh_skew = Duration::from_secs_f64(number("refreshSkewSeconds", s)?);
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
        base.validate()?;
        Ok(base)
    }
}

impl CallOptions {
    pub fn to_core(&self) -> Result<CoreCallOptions> {
        Ok(CoreCallOptions {
            consent: self.enduser_consent == Some(true),
            timeout: self.timeout_ms.map(|ms| millis("timeoutMs", ms)).transpose()?,
            max_retries: self.max_retries.map(|n| count("maxRetries", n)).transpose()?,
            cancel: None,
            prepare: self.prepare.as_deref().map(prepare_mode).transpose()?,
            sent: Default::default(),
        })
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

/// The image-preparation options that a client and `prepareImage` share, applied to `p`.
pub fn apply_prepare(
    p: &mut PrepareOptions,
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

    #[test]
    fn every_extreme_is_refused_without_panicking() {
        for l in LIMITS {
            for v in [f64::NAN, f64::INFINITY, -1.0, 1e300, f64::MAX, l.max + 1.0, l.min - 0.5] {
                assert!(number(l.name, v).is_err(), "{} = {v}", l.name);
            }
            assert_eq!(number(l.name, l.min).unwrap(), l.min);
            assert_eq!(number(l.name, l.max).unwrap(), l.max);
        }
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
}
