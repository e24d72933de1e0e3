//! When and how long to wait before repeating a failed attempt.

use std::time::{Duration, SystemTime};

/// Exponential backoff with full jitter (AWS architecture blog), honouring `Retry-After`.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Extra attempts after the first one.
    pub max_retries: u32,
    /// The first backoff window.
    pub base_delay: Duration,
    /// No backoff window grows past this.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails at once instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (0-based): uniform in `[0, min(cap, base * 2^retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let window = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        let window = window.min(self.max_delay);
        let ms = window.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { rand::random_range(0..=ms) })
    }
}

/// Status codes worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Parses `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_in_window() {
        let p = RetryPolicy::default();
        for retry in 0..40 {
            let cap = (500u64 << retry.min(20)).min(8000);
            for _ in 0..50 {
                assert!(p.backoff(retry).as_millis() as u64 <= cap);
            }
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
