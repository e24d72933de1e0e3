//! Extra request headers: the `headers` client and call options, and the trace context
//! (`traceparent`, `tracestate`) a diagnostics_channel subscriber adds, all checked here and
//! sent by the transport after the SDK's own. The rules (docs/api.md "Extra headers" quotes
//! them) are the ones [`crate::check_token`] applies to a token: nothing that could split a
//! header or a request, within bounded sizes.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{one_line, Error, Result};

/// Checked extra headers, ready to send.
pub type Headers = HeaderMap;

/// Headers one options object may set.
pub const MAX_HEADERS: usize = 32;
/// Bytes of one header value at most.
pub const MAX_HEADER_VALUE_BYTES: usize = 4096;
/// Bytes of all names and values of one options object at most.
pub const MAX_HEADERS_BYTES: usize = 16 * 1024;

/// Names the SDK owns: credentials, the body's framing and the connection. Compared
/// case-insensitively.
pub const REFUSED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

/// The header that carries a call's id: a call may set it (it is then the call's id), a client
/// may not (every call would share one id).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// `pairs` (JS `headers: { name: value }`) as a header map, or `invalid_argument` naming
/// `what` (`options.headers`): no CR, LF or other control character, printable ASCII values,
/// at most [`MAX_HEADERS`] headers and [`MAX_HEADERS_BYTES`] bytes, none of
/// [`REFUSED_HEADERS`], and for a client (`per_call` false) no `X-Request-Id`.
pub fn check_headers<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    what: &str,
    per_call: bool,
) -> Result<Headers> {
    let mut map = HeaderMap::new();
    let mut bytes = 0usize;
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i >= MAX_HEADERS {
            return Err(Error::invalid(format!("{what} has more than {MAX_HEADERS} headers")));
        }
        let shown = one_line(name, 40);
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::invalid(format!("{what}: '{shown}' is not a valid header name")))?;
        if REFUSED_HEADERS.contains(&n.as_str()) {
            return Err(Error::invalid(format!(
                "{what} cannot set {shown}: the SDK sets it{}",
                match n.as_str() {
                    "authorization" => " from the client's token (setToken, privateKey, onTokenRefresh)",
                    _ => "",
                }
            )));
        }
        if !per_call && n.as_str() == REQUEST_ID_HEADER {
            return Err(Error::invalid(format!(
                "{what} cannot set X-Request-Id for every call: pass it in a call's own options.headers"
            )));
        }
        if value.len() > MAX_HEADER_VALUE_BYTES {
            return Err(Error::invalid(format!(
                "{what}['{shown}'] is over {MAX_HEADER_VALUE_BYTES} bytes"
            )));
        }
        if let Some(c) = value.chars().find(|c| !(' '..='~').contains(c) && *c != '\t') {
            let which = match c {
                '\r' | '\n' => "a line break".to_string(),
                c if c.is_control() => format!("the control character U+{:04X}", c as u32),
                _ => "a character that is not printable ASCII".to_string(),
            };
            return Err(Error::invalid(format!("{what}['{shown}'] contains {which}")));
        }
        bytes += name.len() + value.len();
        if bytes > MAX_HEADERS_BYTES {
            return Err(Error::invalid(format!(
                "{what} is over {MAX_HEADERS_BYTES} bytes in all"
            )));
        }
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid(format!("{what}['{shown}'] is not a valid header value")))?;
        map.insert(n, v);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<Headers>) -> String {
        r.err().map(|e| e.code().to_string()).unwrap_or_default()
    }

    #[test]
    fn refuses_what_could_split_a_request_or_replace_credentials() {
        let ok = check_headers(
            [("X-Tenant", "acme"), ("traceparent", "00-abc-def-01")],
            "options.headers",
            true,
        )
        .unwrap();
        assert_eq!(ok.get("x-tenant").unwrap(), "acme");
        for (n, v) in [
            ("Authorization", "Bearer x"),
            ("CONTENT-TYPE", "text/plain"),
            ("content-length", "1"),
            ("X-A", "a\r\nX-B: b"),
            ("X-A", "a\nb"),
            ("X-A", "a\0"),
            ("X-A", "é"),
            ("Bad Name", "v"),
            ("X-A\r\n", "v"),
            ("", "v"),
        ] {
            assert_eq!(
                code(check_headers([(n, v)], "options.headers", true)),
                "invalid_argument",
                "{n:?}: {v:?}"
            );
        }
        let long = "v".repeat(MAX_HEADER_VALUE_BYTES + 1);
        assert_eq!(
            code(check_headers([("X-A", long.as_str())], "h", true)),
            "invalid_argument"
        );
        let names: Vec<String> = (0..=MAX_HEADERS).map(|i| format!("x-{i}")).collect();
        assert_eq!(
            code(check_headers(names.iter().map(|n| (n.as_str(), "v")), "h", true)),
            "invalid_argument"
        );
        assert!(check_headers(names[..MAX_HEADERS].iter().map(|n| (n.as_str(), "v")), "h", true).is_ok());
        assert!(check_headers([("X-Request-Id", "r1")], "h", true).is_ok());
        assert_eq!(
            code(check_headers([("X-Request-Id", "r1")], "h", false)),
            "invalid_argument"
        );
    }
}
