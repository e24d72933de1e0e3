//! The one error type of the client. Every failure, local or remote, ends as an [`Error`]
//! whose [`Error::code`] is a stable string that JavaScript users branch on.

mod codes;

pub use codes::{is_server_code, Code, CodeInfo, Group, CODES, UNION_DOCS};

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
    /// The call needs a session token and the client has no way to get one: nothing was sent.
    #[error(
        "no credentials: set PERSE_PRIVATE_KEY in the environment or pass privateKey to new PerseClient(), \
         call setToken() or login(), or register onTokenRefresh"
    )]
    NoCredentials,
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

mod redact;
#[cfg(test)]
mod tests;

pub use redact::{one_line, MAX_MESSAGE_CHARS};

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
        let code = match &self.kind {
            ErrorKind::Api { code, .. } => return code,
            ErrorKind::ConsentRequired => Code::ConsentRequired,
            ErrorKind::InvalidArgument(_) => Code::InvalidArgument,
            ErrorKind::FileNotFound(_) => Code::FileNotFound,
            ErrorKind::EmptyFile(_) => Code::EmptyFile,
            ErrorKind::InvalidFileType(_) => Code::InvalidFileType,
            ErrorKind::FileTooLarge(_) => Code::FileTooLarge,
            ErrorKind::Network(_) => Code::NetworkError,
            ErrorKind::Timeout(_) => Code::Timeout,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::Server { .. } => Code::ServerError,
            ErrorKind::RateLimited { .. } => Code::RateLimited,
            ErrorKind::Unexpected { .. } => Code::UnexpectedError,
            ErrorKind::TokenRefreshFailed { .. } => Code::TokenRefreshFailed,
            ErrorKind::ClientClosed => Code::ClientClosed,
            ErrorKind::NoCredentials => Code::Unauthorized,
            ErrorKind::ResponseTooLarge { .. } => Code::ResponseTooLarge,
            ErrorKind::Internal(_) => Code::InternalError,
        };
        code.as_str()
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
                code: Code::Unauthorized.as_str().into(),
                message: message
                    .unwrap_or_else(|| "unauthorized: the session token is missing, invalid or expired".into()),
                http_status,
            },
            408 => ErrorKind::Api {
                code: Code::Timeout.as_str().into(),
                message: "the server timed out waiting for the request (HTTP 408)".into(),
                http_status,
            },
            429 => ErrorKind::RateLimited { detail },
            500..=599 => ErrorKind::Server { http_status, detail },
            _ => match code {
                Some(c) if is_server_code(&c) => ErrorKind::Api {
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
                code: Code::Unauthorized.as_str().into(),
                message: "login failed: the private key is invalid".into(),
                http_status: 401,
            },
            _ => return self,
        };
        Error { kind, ..self }
    }

    /// The same error with ` (hint)` after its message (where the kind has a message).
    pub fn with_hint(mut self, hint: &str) -> Self {
        match &mut self.kind {
            ErrorKind::Api { message, .. } | ErrorKind::Unexpected { message, .. } => {
                message.push_str(&format!(" ({hint})"))
            }
            _ => {}
        }
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = self.attempts.max(attempts);
        self
    }
}
