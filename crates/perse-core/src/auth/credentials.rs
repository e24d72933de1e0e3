//! What a session token or a private key must look like to be sent: checked when it is
//! given (`setToken`, `login`, the client options), so a bad one is refused at its source
//! instead of failing every later call.

use crate::error::{Error, Result};

/// Longest token accepted, in bytes: far above any real JWT, far below header limits.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// Why `token` cannot be sent as `Authorization: Bearer <token>`, if it cannot. Checked
/// when a token is stored, so a bad one is refused at the source instead of failing every
/// later call. The reason never quotes the token.
pub fn check_token(token: &str) -> std::result::Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the token is {} bytes, longer than the {MAX_TOKEN_BYTES}-byte limit",
            token.len()
        ));
    }
    if token.contains(['\r', '\n']) {
        return Err("the token contains a line break (a token read from a file often ends in one: trim it)".into());
    }
    if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
        let what = match c {
            ' ' | '\t' => "whitespace",
            c if c.is_control() => "a control character",
            _ => "a non-ASCII character",
        };
        return Err(format!(
            "the token contains {what}, which cannot be sent in an HTTP header"
        ));
    }
    Ok(())
}

/// A private key as the caller gave it: a trailing line break (read from a file) would only
/// show up later as a failed login.
pub(crate) fn check_private_key(k: &str) -> Result<()> {
    if k.is_empty() {
        return Err(Error::invalid("privateKey must be a non-empty string"));
    }
    if k.len() > MAX_TOKEN_BYTES {
        return Err(Error::invalid(format!(
            "privateKey is longer than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    if k.chars().any(char::is_control) {
        return Err(Error::invalid(
            "privateKey contains a line break or control character (a key read from a file often ends in one: trim it)",
        ));
    }
    Ok(())
}
