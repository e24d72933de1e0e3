//! The one error type of the client. Every failure, local or remote, ends as an [`Error`]
//! whose [`Error::code`] is a stable string that JavaScript users branch on.

/// Error codes the Perse API documents; any other server code becomes `unexpected_error`.
pub const KNOWN_SERVER_CODES: &[&str] = &[
    "content_type_header_missing",
    "no_face_detected",
    "empty_file",
    "invalid_file_type",
    "form_key_missing",
    "file_too_large",
    "not_similar",
    "bad_image_quality",
    "image_underexposed",
    "image_overexposed",
    "user_token_not_found",
    "no_face_biometric_data",
    "unauthorized",
    // Not in the contract's table, but what a server says when the consent field is missing;
    // the SDK itself never sends a request without consent.
    "consent_required",
];

/// What went wrong. Messages never contain a token or a private key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// The server answered with one of the contract's error codes.
    #[error("{message}")]
    Api {
        code: String,
        message: String,
        http_status: u16,
    },
    /// `enduserConsent: true` was not given, so nothing was sent.
    #[error("enduserConsent must be true: Perse requires the end user's consent for biometric calls")]
    ConsentRequired,
    /// A caller passed a value of the wrong type or range.
    #[error("{0}")]
    InvalidArgument(String),
    /// An image path that does not exist.
    #[error("file not found: {0}")]
    FileNotFound(String),
    /// The image has no bytes.
    #[error("{0}")]
    EmptyFile(String),
    /// The image is not a JPEG or PNG (or is not decodable).
    #[error("{0}")]
    InvalidFileType(String),
    /// The image is over the upload limit.
    #[error("{0}")]
    FileTooLarge(String),
    /// No response: connection refused or reset, DNS or TLS failure.
    #[error("network error: {0}")]
    Network(String),
    /// An attempt took longer than its time limit.
    #[error("request timed out after {0} ms")]
    Timeout(u64),
    /// The caller's AbortSignal fired.
    #[error("the call was aborted")]
    Aborted,
    /// A 5xx answer that retries did not cure.
    #[error("server error: HTTP {http_status}{detail}")]
    Server { http_status: u16, detail: String },
    /// A 429 answer that retries did not cure.
    #[error("rate limited: HTTP 429{detail}")]
    RateLimited { detail: String },
    /// A body the client cannot understand: not JSON, truncated, HTML, or an unknown code.
    #[error("{message}")]
    Unexpected { http_status: Option<u16>, message: String },
    /// The token source (private-key login or the JS callback) failed.
    #[error("token refresh failed: {cause}")]
    TokenRefreshFailed { cause: String },
    /// The client was closed before or during the call.
    #[error("the client is closed")]
    ClientClosed,
    /// A success body larger than `maxResponseBytes`: refused, never buffered whole.
    #[error("the HTTP {http_status} response body is larger than the {limit}-byte limit (maxResponseBytes)")]
    ResponseTooLarge { http_status: u16, limit: u64 },
    /// A bug inside the SDK (for example a caught panic). Never expected.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An [`ErrorKind`] plus what the transport knows about how it came about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    pub kind: ErrorKind,
    /// HTTP attempts made (0 when the call failed before sending anything).
    pub attempts: u32,
    /// Whether repeating the same call later may succeed.
    pub retryable: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error {
            kind,
            attempts: 0,
            retryable: false,
        }
    }
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        ErrorKind::InvalidArgument(msg.into()).into()
    }

    /// The stable code string (`unauthorized`, `timeout`, ...).
    pub fn code(&self) -> &str {
        match &self.kind {
            ErrorKind::Api { code, .. } => code,
            ErrorKind::ConsentRequired => "consent_required",
            ErrorKind::InvalidArgument(_) => "invalid_argument",
            ErrorKind::FileNotFound(_) => "file_not_found",
            ErrorKind::EmptyFile(_) => "empty_file",
            ErrorKind::InvalidFileType(_) => "invalid_file_type",
            ErrorKind::FileTooLarge(_) => "file_too_large",
            ErrorKind::Network(_) => "network_error",
            ErrorKind::Timeout(_) => "timeout",
            ErrorKind::Aborted => "aborted",
            ErrorKind::Server { .. } => "server_error",
            ErrorKind::RateLimited { .. } => "rate_limited",
            ErrorKind::Unexpected { .. } => "unexpected_error",
            ErrorKind::TokenRefreshFailed { .. } => "token_refresh_failed",
            ErrorKind::ClientClosed => "client_closed",
            ErrorKind::ResponseTooLarge { .. } => "response_too_large",
            ErrorKind::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status when a response came back.
    pub fn http_status(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Api { http_status, .. } | ErrorKind::Server { http_status, .. } => Some(*http_status),
            ErrorKind::RateLimited { .. } => Some(429),
            ErrorKind::Unexpected { http_status, .. } => *http_status,
            ErrorKind::ResponseTooLarge { http_status, .. } => Some(*http_status),
            _ => None,
        }
    }

    /// The cause text for `token_refresh_failed` (the callback's own message).
    pub fn cause(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::TokenRefreshFailed { cause } => Some(cause),
            _ => None,
        }
    }

    /// Maps a non-2xx response to an error. `body` is the raw body, maybe empty or HTML.
    pub fn from_response(http_status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            message: Option<String>,
            code: Option<String>,
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let (code, message) = match parsed {
            Some(b) => (b.code, b.message),
            // Not JSON, or JSON cut at the error-body limit: keep what starts the message.
            None => (None, partial_message(body)),
        };
        let detail = message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        let kind = match http_status {
            401 => ErrorKind::Api {
                code: "unauthorized".into(),
                message: message
                    .unwrap_or_else(|| "unauthorized: the session token is missing, invalid or expired".into()),
                http_status,
            },
            408 => ErrorKind::Api {
                code: "timeout".into(),
                message: "the server timed out waiting for the request (HTTP 408)".into(),
                http_status,
            },
            429 => ErrorKind::RateLimited { detail },
            500..=599 => ErrorKind::Server { http_status, detail },
            _ => match code {
                Some(c) if KNOWN_SERVER_CODES.contains(&c.as_str()) => ErrorKind::Api {
                    message: message.unwrap_or_else(|| c.replace('_', " ")),
                    code: c,
                    http_status,
                },
                Some(c) => ErrorKind::Unexpected {
                    http_status: Some(http_status),
                    message: format!(
                        "unexpected error code '{}' (HTTP {http_status}){detail}",
                        truncate(&c, 64)
                    ),
                },
                None => ErrorKind::Unexpected {
                    http_status: Some(http_status),
                    message: match message {
                        Some(m) => format!("unexpected response: HTTP {http_status}: {m}"),
                        None => format!("unexpected response: HTTP {http_status} with no Perse error body"),
                    },
                },
            },
        };
        kind.into()
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The start of the `"message"` string of a JSON body that does not parse (it was cut at the
/// error-body limit): enough for the caller to see what the server said.
fn partial_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let at = text.find("\"message\"")?;
    let rest = text[at + 9..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
        if out.len() > 4 * MAX_MESSAGE_CHARS {
            break;
        }
    }
    Some(out)
}

/// Longest message text handed to callers, in characters: a server's message, a refresh
/// callback's error. Longer texts are cut (after redaction, so no secret is cut in half).
pub const MAX_MESSAGE_CHARS: usize = 1000;

impl Error {
    /// The token source (the JS callback, or its timeout) failed: retryable, nothing sent.
    pub fn refresh_failed(cause: String) -> Self {
        Error {
            kind: ErrorKind::TokenRefreshFailed { cause },
            attempts: 0,
            retryable: true,
        }
    }

    /// `/login`'s failures in the words of a login: a 400 means the key is malformed, a 401
    /// that it is wrong (whatever the server's message says).
    pub fn for_login(self) -> Self {
        let kind = match self.http_status() {
            Some(400) => {
                ErrorKind::InvalidArgument("login rejected the request: the private key is missing or malformed".into())
            }
            Some(401) => ErrorKind::Api {
                code: "unauthorized".into(),
                message: "login failed: the private key is invalid".into(),
                http_status: 401,
            },
            _ => return self,
        };
        Error { kind, ..self }
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = self.attempts.max(attempts);
        self
    }

    /// Replaces every occurrence of `secret` in the texts with `[redacted]`.
    pub fn redact(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.edit_text(|s| {
                if s.contains(secret) {
                    *s = s.replace(secret, "[redacted]");
                }
            });
        }
    }

    /// Replaces anything shaped like a JWT (`eyJ...`.`...`.`...`) with `[redacted]`: callbacks
    /// and servers can echo tokens this client never held.
    pub fn redact_jwts(&mut self) {
        self.edit_text(|s| {
            if s.contains("eyJ") {
                *s = scrub_jwts(s);
            }
        });
    }

    /// Makes every text one line of at most [`MAX_MESSAGE_CHARS`] characters: a server or a
    /// callback must not be able to forge log lines or flood logs through an error message.
    /// Runs after redaction.
    pub fn tidy(&mut self) {
        self.edit_text(|s| {
            if s.len() > MAX_MESSAGE_CHARS || s.chars().any(is_break) {
                *s = one_line(s, MAX_MESSAGE_CHARS);
            }
        });
    }

    fn edit_text(&mut self, fix: impl Fn(&mut String)) {
        match &mut self.kind {
            ErrorKind::Api { message, .. } | ErrorKind::Unexpected { message, .. } => fix(message),
            ErrorKind::InvalidArgument(m)
            | ErrorKind::FileNotFound(m)
            | ErrorKind::EmptyFile(m)
            | ErrorKind::InvalidFileType(m)
            | ErrorKind::FileTooLarge(m)
            | ErrorKind::Network(m)
            | ErrorKind::Internal(m) => fix(m),
            ErrorKind::Server { detail, .. } | ErrorKind::RateLimited { detail } => fix(detail),
            ErrorKind::TokenRefreshFailed { cause } => fix(cause),
            ErrorKind::ConsentRequired
            | ErrorKind::Timeout(_)
            | ErrorKind::Aborted
            | ErrorKind::ClientClosed
            | ErrorKind::ResponseTooLarge { .. } => {}
        }
    }
}

/// Line breaks and other control characters, including Unicode's line and paragraph separators.
fn is_break(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `s` on one line (each run of control characters becomes one space), cut at `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 4));
    let mut chars = 0;
    let mut gap = false;
    for c in s.chars() {
        if is_break(c) {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
            chars += 1;
        }
        gap = false;
        if chars >= max {
            out.push('…');
            break;
        }
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_string()
}

fn scrub_jwts(s: &str) -> String {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("eyJ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let len = tail.find(|c: char| !is_tok(c)).unwrap_or(tail.len());
        let candidate = &tail[..len];
        if candidate.matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(candidate);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
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
}
