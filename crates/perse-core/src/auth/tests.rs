//! Tests of token storage, freshness and redaction bookkeeping.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;

use super::*;

fn jwt(payload: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.sig", e.encode(br#"{"alg":"HS256"}"#), e.encode(payload))
}

#[test]
fn reads_exp() {
    assert_eq!(jwt_expiry(&jwt(r#"{"exp":1700000000}"#)), Some(1_700_000_000));
    assert_eq!(jwt_expiry(&jwt(r#"{"sub":"x"}"#)), None);
    assert_eq!(jwt_expiry("not-a-jwt"), None);
    assert_eq!(jwt_expiry("a.!!!.c"), None);
}

#[test]
fn tokens_that_cannot_be_a_header_are_refused() {
    assert!(check_token("eyJa.eyJb.sig-_~+/=").is_ok());
    for (bad, why) in [
        ("", "empty"),
        ("abc\n", "line break"),
        ("a\r\nX: y", "line break"),
        ("a\0b", "control"),
        ("a b", "whitespace"),
        ("tok\u{e9}n", "non-ASCII"),
    ] {
        let e = check_token(bad).unwrap_err();
        assert!(e.contains(why), "{bad:?}: {e}");
        assert!(bad.is_empty() || !e.contains(bad), "the reason never quotes the token");
    }
    assert!(check_token(&"x".repeat(MAX_TOKEN_BYTES + 1))
        .unwrap_err()
        .contains("limit"));
}

#[test]
fn secrets_are_remembered_until_close() {
    let a = Auth::default();
    for i in 0..(HELD_SECRETS + 10) {
        a.set_token(Some(format!("token-{i}")));
    }
    let s = a.secrets();
    assert!(s.iter().any(|t| &**t == "token-10"), "the oldest kept");
    assert!(!s.iter().any(|t| &**t == "token-9"), "the ring is bounded");
    a.close();
    assert!(a.secrets().is_empty());
    a.set_token(Some("late".into()));
    a.set_source(TokenSource::PrivateKey("sk".into()));
    assert!(
        !a.has_token() && a.secrets().is_empty(),
        "a closed client stores nothing"
    );
}

#[test]
fn freshness_uses_skew() {
    let a = Auth::default();
    assert!(a.fresh(Duration::from_secs(60)).is_err());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    // A 15-minute token 30 s from exp: stale under a 60 s skew, fresh under 10 s.
    a.set_token(Some(jwt(&format!(r#"{{"iat":{},"exp":{}}}"#, now - 870, now + 30))));
    assert!(a.fresh(Duration::from_secs(60)).is_err());
    assert!(a.fresh(Duration::from_secs(10)).is_ok());
    // A 4-second token just issued: the skew shrinks to half its lifetime, so it is fresh.
    a.set_token(Some(jwt(&format!(r#"{{"iat":{now},"exp":{}}}"#, now + 4))));
    assert!(a.fresh(Duration::from_secs(60)).is_ok());
    a.set_token(Some("opaque".into()));
    assert!(a.fresh(Duration::from_secs(60)).is_ok());
}

#[test]
fn clients_with_one_key_and_base_url_share_a_session_until_given_a_token() {
    let key: Arc<str> = Arc::from(format!("sk_shared_{}", rand::random::<u64>()));
    let (a, b, c) = (Auth::default(), Auth::default(), Auth::default());
    for x in [&a, &b, &c] {
        x.set_source(TokenSource::PrivateKey(key.clone()));
    }
    a.bind("https://one.test/v0");
    b.bind("https://one.test/v0");
    c.bind("https://two.test/v0");
    a.session().store(Some(Arc::from("tok-1")));
    assert_eq!(
        b.current().map(|t| t.value),
        Some(Arc::from("tok-1")),
        "b shares a's session"
    );
    assert!(c.current().is_none(), "another base URL, another session");
    assert!(b.secrets().iter().any(|s| &**s == "tok-1"));
    // A token given to b is b's alone; a keeps the shared one.
    b.set_token(Some("own".into()));
    assert_eq!(a.current().map(|t| t.value), Some(Arc::from("tok-1")));
    assert_eq!(b.current().map(|t| t.value), Some(Arc::from("own")));
    b.bind("https://one.test/v0");
    assert_eq!(
        b.current().map(|t| t.value),
        Some(Arc::from("own")),
        "a given token stays"
    );
    // The session outlives its clients (per-request clients are dropped between requests).
    a.close();
    assert!(a.secrets().is_empty(), "a closed client holds no secret");
    let d = Auth::default();
    d.set_source(TokenSource::PrivateKey(key.clone()));
    d.bind("https://one.test/v0");
    assert_eq!(d.current().map(|t| t.value), Some(Arc::from("tok-1")));
    // ... but not its token's expiry.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    d.session()
        .store(Some(Arc::from(jwt(&format!(r#"{{"exp":{}}}"#, now - 1)))));
    d.close();
    let e = Auth::default();
    e.set_source(TokenSource::PrivateKey(key));
    e.bind("https://one.test/v0");
    assert!(e.current().is_none(), "an expired session with no client is dropped");
}

#[test]
fn private_keys_with_line_breaks_are_refused() {
    assert!(check_private_key("sk_live_x").is_ok());
    let e = check_private_key("sk_live_x\n").unwrap_err();
    assert!(e.to_string().contains("trim"));
    assert!(!e.to_string().contains("sk_live_x"));
}
