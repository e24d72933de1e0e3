//! Tests of error mapping and redaction.

use super::redact::scrub_jwts;
use super::*;

#[test]
fn known_codes_pass_through() {
    let e = Error::from_response(
        422,
        br#"{"message":"No face","code":"no_face_detected","status":false}"#,
    );
    assert_eq!(e.code(), "no_face_detected");
    assert_eq!(e.http_status(), Some(422));
    assert_eq!(e.to_string(), "No face");
}

#[test]
fn unknown_code_and_html_become_unexpected() {
    let e = Error::from_response(418, br#"{"message":"teapot","code":"im_a_teapot"}"#);
    assert_eq!(e.code(), "unexpected_error");
    assert!(e.to_string().contains("418"));
    let e = Error::from_response(404, b"<html>nope</html>");
    assert_eq!(e.code(), "unexpected_error");
    assert!(e.to_string().contains("404"));
}

#[test]
fn redaction_and_one_line() {
    let mut e = Error::from(ErrorKind::Api {
        code: "x".into(),
        message: "bad key sk_live_123\r\nFAKE: line".into(),
        http_status: 400,
    });
    e.redact("sk_live_123");
    e.tidy();
    assert_eq!(e.to_string(), "bad key [redacted] FAKE: line");
    assert_eq!(
        scrub_jwts("a eyJhbGc.eyJzdWIi.sig-_1 b eyJnotjwt c"),
        "a [redacted] b eyJnotjwt c"
    );
    let long = "é".repeat(5000);
    let cut = one_line(&long, 10);
    assert_eq!(cut.chars().count(), 11);
    assert!(cut.ends_with('…'));
    assert_eq!(one_line("\n\na\u{2028}b\t", 100), "a b");
}

#[test]
fn a_cut_json_body_keeps_the_start_of_its_message() {
    let body = br#"{"message":"too \"dark\"\nnow \u00e9 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"#;
    let e = Error::from_response(422, body);
    assert_eq!(e.code(), "unexpected_error");
    assert_eq!(
        e.to_string(),
        "unexpected response: HTTP 422: too \"dark\"\nnow \u{e9} aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    );
    assert_eq!(
        Error::from_response(404, b"<html>").to_string(),
        "unexpected response: HTTP 404 with no Perse error body"
    );
}

#[test]
fn status_classes() {
    assert_eq!(Error::from_response(401, b"").code(), "unauthorized");
    assert_eq!(Error::from_response(429, b"").code(), "rate_limited");
    let e = Error::from_response(503, b"<html>busy</html>");
    assert_eq!(e.code(), "server_error");
    assert!(e.to_string().contains("503"));
    assert_eq!(Error::from_response(408, b"").code(), "timeout");
}

#[test]
fn a_tidied_message_keeps_the_cap_with_its_wording() {
    let long = "x".repeat(5_000_000);
    let kinds = [
        ErrorKind::TokenRefreshFailed { cause: long.clone() },
        ErrorKind::Server {
            http_status: 503,
            detail: long.clone(),
        },
        ErrorKind::Network(long.clone()),
        ErrorKind::Api {
            code: "x".into(),
            message: long.clone(),
            http_status: 400,
        },
    ];
    for kind in kinds {
        let mut e = Error::from(kind);
        e.tidy();
        let n = e.to_string().chars().count();
        assert!(n <= MAX_MESSAGE_CHARS && n > MAX_MESSAGE_CHARS - 10, "{n} characters");
    }
}

#[test]
fn every_code_the_client_raises_is_in_the_table() {
    let kinds = [
        ErrorKind::ConsentRequired,
        ErrorKind::InvalidArgument(String::new()),
        ErrorKind::FileNotFound(String::new()),
        ErrorKind::EmptyFile(String::new()),
        ErrorKind::InvalidFileType(String::new()),
        ErrorKind::FileTooLarge(String::new()),
        ErrorKind::Network(String::new()),
        ErrorKind::Timeout(1),
        ErrorKind::Aborted,
        ErrorKind::Server {
            http_status: 500,
            detail: String::new(),
        },
        ErrorKind::RateLimited { detail: String::new() },
        ErrorKind::Unexpected {
            http_status: None,
            message: String::new(),
        },
        ErrorKind::TokenRefreshFailed { cause: String::new() },
        ErrorKind::ClientClosed,
        ErrorKind::NoCredentials,
        ErrorKind::ResponseTooLarge {
            http_status: 200,
            limit: 1,
        },
        ErrorKind::Internal(String::new()),
    ];
    for kind in kinds {
        let code = Error::from(kind).code().to_string();
        assert!(CODES.iter().any(|c| c.code == code), "{code} is not in codes.rs");
    }
    // Every server code of the table passes through; anything else becomes unexpected_error.
    for c in CODES.iter().filter(|c| c.server.is_some() && c.code != "unauthorized") {
        let body = format!(r#"{{"code":"{}","message":"m"}}"#, c.code);
        assert_eq!(Error::from_response(422, body.as_bytes()).code(), c.code);
    }
    assert_eq!(
        Error::from_response(422, br#"{"code":"invalid_argument"}"#).code(),
        "unexpected_error"
    );
}
