//! Test controls: injected faults and the request log. The log keeps method, path, field
//! names and sizes, never image bytes, tokens or keys.

use std::time::Duration;

/// An answer the server gives instead of its own, for the next `times` matching requests.
#[derive(Clone, Debug, Default)]
pub struct Fault {
    /// Path relative to `/v0` (`/face/detect`) or absolute (`/v0/face/detect`); `None`: any.
    pub path: Option<String>,
    /// Status to answer with; `None`: only delay, then answer normally.
    pub status: Option<u16>,
    /// Error code for the JSON body (default from the status).
    pub code: Option<String>,
    /// Raw body to send instead of the JSON error (HTML, truncated JSON, ...).
    pub body: Option<String>,
    /// Wait this long first.
    pub delay: Duration,
    /// How many requests it applies to (at least 1).
    pub times: u32,
}

impl Fault {
    pub fn matches(&self, path: &str) -> bool {
        match &self.path {
            None => true,
            Some(p) => {
                let p = p.trim_end_matches('/');
                path == p || path.strip_prefix("/v0") == Some(p)
            }
        }
    }

    /// The error code for an injected status without an explicit one.
    pub fn default_code(status: u16) -> &'static str {
        match status {
            401 => "unauthorized",
            413 => "file_too_large",
            415 => "invalid_file_type",
            422 => "no_face_detected",
            429 => "rate_limited",
            400..=499 => "form_key_missing",
            _ => "server_error",
        }
    }
}

/// One field of a recorded multipart request.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedField {
    pub name: String,
    /// For file parts.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// Size in bytes (file parts and text alike).
    pub size: usize,
    /// Text value, for non-file parts only.
    pub value: Option<String>,
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub fields: Vec<RecordedField>,
    /// Whether an `Authorization: Bearer` header was present (its value is not kept).
    pub has_authorization: bool,
    /// The status the server answered with.
    pub status: u16,
    /// Whether an injected fault produced the answer.
    pub faulted: bool,
}
