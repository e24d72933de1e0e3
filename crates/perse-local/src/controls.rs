//! Test controls: injected faults and the request log. The log keeps method, path, field
//! names and sizes, never image bytes, tokens or keys, and it is bounded: a request records
//! at most [`MAX_RECORDED_FIELDS`] fields with short texts, and the log drops its oldest
//! entries beyond [`MAX_LOG`] entries or [`MAX_LOG_BYTES`] bytes.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// How many requests it applies to (at least 1); with `reach_caller`, how many calls.
    pub times: u32,
    /// Apply to every attempt of a call (the SDK's retries and its refresh after a 401 carry
    /// the same `X-Request-Id` header), so that the call itself fails with this answer.
    pub reach_caller: bool,
    /// The call a `reach_caller` fault is answering now.
    pub bound: Option<String>,
}

/// Declares `FaultSpec`, a fault as a caller describes it, with the attributes given before
/// the struct: this crate declares it for the JSON of the HTTP controls (serde), and
/// perse-node-local for `injectFault` (`#[napi(object)]`), so both take the same fields, with
/// the same docs and ranges, checked by the same `check()` ([`Fault::try_from`]).
#[macro_export]
macro_rules! fault_spec {
    ($($attrs:tt)*) => {
        $crate::__js_options! {
            /// An answer to give instead of the real one, for the next `times` matching requests.
            $($attrs)*
            pub struct FaultSpec [FAULT_KEYS, "fault"] {
                /// Path with or without `/v0` (e.g. `/face/detect`); default: any path.
                path: Option<String>,
                /// HTTP status to answer with ({range}); without it the fault only delays.
                #[integer(100 ..= 599)]
                status: Option<f64>,
                /// Error code in the JSON body; default derived from the status.
                code: Option<String>,
                /// Raw body instead of the JSON error (HTML, truncated JSON...).
                body: Option<String>,
                /// Wait this many milliseconds first ({range}).
                #[number(0 ..= 600_000, "milliseconds")]
                delay_ms: Option<f64>,
                /// How many requests it applies to ({range}; with `reachCaller`, how many calls); default 1.
                #[integer(1 ..= 1_000_000_000)]
                times: Option<f64>,
                /// Answer every attempt of the next call (its retries and its refresh after a 401 too), so that the call itself fails with this answer. Default false.
                reach_caller: Option<bool>,
            }
        }
    };
}

fault_spec!(#[derive(Deserialize)] #[serde(rename_all = "camelCase", deny_unknown_fields)]);

impl TryFrom<FaultSpec> for Fault {
    type Error = perse_core::Error;

    fn try_from(spec: FaultSpec) -> Result<Self, perse_core::Error> {
        spec.check()?;
        let status = spec.status.map(|s| s as u16);
        let delay = spec
            .delay_ms
            .map_or(Duration::ZERO, |ms| Duration::from_millis(ms as u64));
        if status.is_none() && delay.is_zero() {
            return Err(perse_core::Error::invalid("a fault needs a status, a delayMs, or both"));
        }
        Ok(Fault {
            path: spec.path,
            status,
            code: spec.code,
            body: spec.body,
            delay,
            times: spec.times.map_or(1, |n| n as u32),
            reach_caller: spec.reach_caller.unwrap_or(false),
            bound: None,
        })
    }
}

/// Takes the fault that answers a request to `path` from call `call` (its `X-Request-Id`
/// header), if any, and counts it used.
pub fn take_fault(faults: &mut Vec<Fault>, path: &str, call: Option<&str>) -> Option<Fault> {
    loop {
        let i = faults.iter().position(|f| f.matches(path))?;
        let f = &mut faults[i];
        if f.reach_caller && call.is_some() && f.bound.as_deref() == call {
            return Some(f.clone()); // another attempt of the call being answered
        }
        if f.reach_caller && f.bound.is_some() {
            // A new call: the bound one has been reached.
            f.bound = None;
            f.times -= 1;
            if f.times == 0 {
                faults.remove(i);
                continue;
            }
        }
        let fault = f.clone();
        if f.reach_caller && call.is_some() {
            f.bound = call.map(str::to_string);
        } else {
            f.times -= 1;
            if f.times == 0 {
                faults.remove(i);
            }
        }
        return Some(fault);
    }
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
    /// The request's `X-Request-Id` (1 to 200 printable ASCII characters), echoed in the answer.
    pub request_id: Option<String>,
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
        96 + self.method.len()
            + self.path.len()
            + self.request_id.as_ref().map_or(0, String::len)
            + self.fields.iter().map(field).sum::<usize>()
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
    fn reach_caller_faults_answer_every_attempt_of_one_call() {
        let mut faults = vec![Fault {
            status: Some(503),
            times: 1,
            reach_caller: true,
            ..Fault::default()
        }];
        for _ in 0..3 {
            assert!(take_fault(&mut faults, "/v0/face/detect", Some("call-1")).is_some());
        }
        assert!(take_fault(&mut faults, "/v0/face/detect", Some("call-2")).is_none());
        assert!(faults.is_empty());
        let mut plain = vec![Fault {
            status: Some(500),
            times: 2,
            ..Fault::default()
        }];
        assert!(take_fault(&mut plain, "/x", Some("a")).is_some());
        assert!(take_fault(&mut plain, "/x", Some("a")).is_some());
        assert!(take_fault(&mut plain, "/x", Some("a")).is_none());
    }

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
                request_id: Some("r".repeat(200)),
            });
        }
        assert!(log.bytes <= MAX_LOG_BYTES);
        assert!(log.to_vec().iter().all(|r| r.fields.len() == MAX_RECORDED_FIELDS));
        assert!(log.to_vec().len() > 10);
    }
}
