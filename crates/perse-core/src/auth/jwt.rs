//! Reading a JWT's `exp` and `iat` without verifying it (enough to refresh ahead of time),
//! and when a token counts as stale.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn effective_skew(skew: Duration, lifetime: Option<u64>) -> Duration {
    match lifetime {
        Some(l) => skew.min(Duration::from_secs(l / 2)),
        None => skew,
    }
}

pub(super) fn expires_within(exp: Option<u64>, skew: Duration) -> bool {
    match exp {
        None => false,
        Some(exp) => exp <= now_secs().saturating_add(skew.as_secs()),
    }
}

/// Reads `exp` (seconds since the epoch) from a JWT payload without verifying the signature:
/// enough to refresh ahead of time. Anything malformed gives `None` ("unknown expiry").
pub fn jwt_expiry(token: &str) -> Option<u64> {
    jwt_claims(token).map(|c| c.0)
}

/// `(exp, iat)` from a JWT payload, unverified.
pub(super) fn jwt_claims(token: &str) -> Option<(u64, Option<u64>)> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let secs = |k: &str| {
        let n = v.get(k)?;
        n.as_u64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
    };
    Some((secs("exp")?, secs("iat")))
}
