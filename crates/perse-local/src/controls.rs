//! Test controls: injected faults and the request log. The log keeps method, path, field
//! names and sizes, never image bytes, tokens or keys, and it is bounded: a request records
//! at most [`MAX_RECORDED_FIELDS`] fields with short texts, and the log drops its oldest
//! entries beyond [`MAX_LOG`] entries or [`MAX_LOG_BYTES`] bytes.

use std::collections::VecDeque;
use std::time::Duration;

/// Entries the request log keeps at most.
pub const MAX_LOG: usize = 10_000;
/// Bytes of text (paths, names, values) the request log keeps at most.
pub const MAX_LOG_BYTES: usize = 4 * 1024 * 1024;
/// Fields recorded per request (a form has at most this many; see `form.rs`).
pub const MAX_RECORDED_FIELDS: usize = 64;
/// Characters kept of a recorded text (path, field name, filename, content type, value).
pub const MAX_RECORDED_CHARS: usize = 256;

/// `s` cut to [`MAX_RECORDED_CHARS`] characters.
pub fn clip(s: &str) -> String {
    s.chars().take(MAX_RECORDED_CHARS).collect()
}

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

impl RecordedRequest {
    /// Bytes this entry holds, roughly: its texts plus a fixed cost per entry and field.
    fn weight(&self) -> usize {
        let field = |f: &RecordedField| {
            64 + f.name.len()
                + f.filename.as_ref().map_or(0, String::len)
                + f.content_type.as_ref().map_or(0, String::len)
                + f.value.as_ref().map_or(0, String::len)
        };
        96 + self.method.len() + self.path.len() + self.fields.iter().map(field).sum::<usize>()
    }
}

/// The request log, oldest first, within [`MAX_LOG`] entries and [`MAX_LOG_BYTES`] bytes.
#[derive(Default)]
pub struct Log {
    entries: VecDeque<RecordedRequest>,
    bytes: usize,
}

impl Log {
    pub fn push(&mut self, mut entry: RecordedRequest) {
        entry.fields.truncate(MAX_RECORDED_FIELDS);
        let w = entry.weight();
        self.bytes += w;
        self.entries.push_back(entry);
        while self.entries.len() > MAX_LOG || self.bytes > MAX_LOG_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= old.weight(),
                None => break,
            }
        }
    }

    pub fn to_vec(&self) -> Vec<RecordedRequest> {
        self.entries.iter().cloned().collect()
    }

    pub fn clear(&mut self) {
        *self = Log::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_stays_within_its_budgets() {
        let mut log = Log::default();
        let field = RecordedField {
            name: "n".repeat(MAX_RECORDED_CHARS),
            filename: None,
            content_type: None,
            size: 1,
            value: Some("v".repeat(MAX_RECORDED_CHARS)),
        };
        for _ in 0..2000 {
            log.push(RecordedRequest {
                method: "POST".into(),
                path: "/v0/face/detect".into(),
                fields: vec![field.clone(); 100],
                has_authorization: true,
                status: 400,
                faulted: false,
            });
        }
        assert!(log.bytes <= MAX_LOG_BYTES);
        assert!(log.to_vec().iter().all(|r| r.fields.len() == MAX_RECORDED_FIELDS));
        assert!(log.to_vec().len() > 10);
    }
}
