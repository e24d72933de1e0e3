//! HS256 session tokens issued by `/login` and checked on every other call. A generation
//! claim lets `expireTokens()` invalidate every token issued so far at once.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub struct Issuer {
    secret: [u8; 32],
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    gen: u64,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Issuer {
    pub fn new() -> Self {
        Issuer { secret: rand::random() }
    }

    /// HMAC accepts keys of any length, so this is always `Some`; no panic path either way.
    fn mac(&self) -> Option<HmacSha256> {
        <HmacSha256 as Mac>::new_from_slice(&self.secret).ok()
    }

    /// A token valid for `ttl_secs` in generation `gen`.
    pub fn issue(&self, ttl_secs: u64, gen: u64) -> String {
        let iat = now();
        let head = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = Claims {
            sub: "perse-local".into(),
            iat,
            exp: iat + ttl_secs,
            gen,
        };
        let body = B64.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let Some(mut mac) = self.mac() else {
            return String::new();
        };
        mac.update(format!("{head}.{body}").as_bytes());
        format!("{head}.{body}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// Whether `token` was signed here, is unexpired and belongs to generation `gen`.
    pub fn verify(&self, token: &str, gen: u64) -> bool {
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(sig) = B64.decode(sig) else { return false };
        let Some(mut mac) = self.mac() else { return false };
        mac.update(format!("{head}.{body}").as_bytes());
        if mac.verify_slice(&sig).is_err() {
            return false;
        }
        let Some(claims) = B64
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice::<Claims>(&b).ok())
        else {
            return false;
        };
        claims.exp > now() && claims.gen == gen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_verify() {
        let i = Issuer::new();
        let t = i.issue(60, 0);
        assert!(i.verify(&t, 0));
        assert!(!i.verify(&t, 1), "expired by generation");
        assert!(!i.verify(&i.issue(0, 0), 0), "expired by time");
        assert!(!Issuer::new().verify(&t, 0), "other secret");
        assert!(!i.verify("a.b", 0));
        assert_eq!(perse_core::jwt_expiry(&t).map(|e| e - now()), Some(60));
    }
}
