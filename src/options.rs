//! Options objects as JS passes them, and their conversion to core settings. `index.js`
//! checks JS types first (naming the parameter); these checks guard the values themselves.

use std::time::Duration;

use napi_derive::napi;
use perse_core::{CallOptions as CoreCallOptions, Config, Error, PrepareMode, Result};

/// Settings of a `PerseClient` (all optional).
#[napi(object)]
#[derive(Default, Clone)]
pub struct ClientOptions {
    /// API root; default `https://api.getperse.com/v0` (the default client reads env `PERSE_BASE_URL`). `http://` only on loopback.
    pub base_url: Option<String>,
    /// A session token (JWT) to start with, as `setToken` would store it.
    pub token: Option<String>,
    /// Per-attempt time limit in milliseconds; default 30000.
    pub timeout_ms: Option<f64>,
    /// `User-Agent` header; default `perse-node/<version>`.
    pub user_agent: Option<String>,
    /// Extra attempts for failures that are safe to repeat; default 2.
    pub max_retries: Option<f64>,
    /// First backoff window in milliseconds; default 500 (jittered, doubling, capped by `retryMaxDelayMs`).
    pub retry_base_delay_ms: Option<f64>,
    /// Largest backoff window in milliseconds; default 8000.
    pub retry_max_delay_ms: Option<f64>,
    /// Private key: the client logs in by itself on first use and whenever the token is stale.
    pub private_key: Option<String>,
    /// Refresh this many seconds before the token's `exp`; default 60.
    pub refresh_skew_seconds: Option<f64>,
    /// Upload limit in bytes, checked before sending; default 1000000.
    pub max_upload_bytes: Option<f64>,
    /// Image preparation before upload: `'validate'` (default: send unchanged) or `'fit'`
    /// (convert, orient and shrink into a JPEG under `maxUploadBytes`).
    #[napi(ts_type = "'validate' | 'fit'")]
    pub prepare: Option<String>,
    /// Images declaring more pixels are refused from their header; default 40000000.
    pub max_pixels: Option<f64>,
}

/// Per-call settings.
#[napi(object)]
#[derive(Default, Clone)]
pub struct CallOptions {
    /// The end user consented to biometric processing. Required (`true`) on every biometric call.
    pub enduser_consent: Option<bool>,
    /// Per-attempt time limit in milliseconds for this call.
    pub timeout_ms: Option<f64>,
    /// Extra attempts for this call.
    pub max_retries: Option<f64>,
    /// Image preparation for this call (overrides the client's).
    #[napi(ts_type = "'validate' | 'fit'")]
    pub prepare: Option<String>,
}

impl ClientOptions {
    /// Applies the set fields on top of `base`.
    pub fn apply(&self, mut base: Config) -> Result<Config> {
        if let Some(u) = &self.base_url {
            base.base_url = u.clone();
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
            base.retry.base_delay = millis_or_zero("retryBaseDelayMs", ms)?;
        }
        if let Some(ms) = self.retry_max_delay_ms {
            base.retry.max_delay = millis_or_zero("retryMaxDelayMs", ms)?;
        }
        if let Some(s) = self.refresh_skew_seconds {
            if !s.is_finite() || s < 0.0 {
                return Err(Error::invalid("refreshSkewSeconds must be a finite number >= 0"));
            }
            base.refresh_skew = Duration::from_secs_f64(s);
        }
        if let Some(n) = self.max_upload_bytes {
            base.prepare.max_upload_bytes = positive_int("maxUploadBytes", n)? as usize;
        }
        if let Some(m) = &self.prepare {
            base.prepare.mode = prepare_mode(m)?;
        }
        if let Some(n) = self.max_pixels {
            base.prepare.max_pixels = positive_int("maxPixels", n)?;
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
        })
    }
}

pub fn prepare_mode(s: &str) -> Result<PrepareMode> {
    match s {
        "validate" => Ok(PrepareMode::Validate),
        "fit" => Ok(PrepareMode::Fit),
        other => Err(Error::invalid(format!(
            "prepare must be 'validate' or 'fit', not '{other}'"
        ))),
    }
}

pub fn positive_int(name: &str, n: f64) -> Result<u64> {
    if !n.is_finite() || n < 1.0 || n.fract() != 0.0 || n > 9.0e15 {
        return Err(Error::invalid(format!("{name} must be a positive integer")));
    }
    Ok(n as u64)
}

fn millis(name: &str, ms: f64) -> Result<Duration> {
    if !ms.is_finite() || !(1.0..=86_400_000.0).contains(&ms) {
        return Err(Error::invalid(format!(
            "{name} must be a number of milliseconds between 1 and 86400000"
        )));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn millis_or_zero(name: &str, ms: f64) -> Result<Duration> {
    if !ms.is_finite() || !(0.0..=3_600_000.0).contains(&ms) {
        return Err(Error::invalid(format!(
            "{name} must be a number of milliseconds between 0 and 3600000"
        )));
    }
    Ok(Duration::from_millis(ms as u64))
}

fn count(name: &str, n: f64) -> Result<u32> {
    if !n.is_finite() || !(0.0..=20.0).contains(&n) || n.fract() != 0.0 {
        return Err(Error::invalid(format!("{name} must be an integer between 0 and 20")));
    }
    Ok(n as u32)
}
