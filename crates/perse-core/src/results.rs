//! The calls' results as they reach JavaScript: each one's tag in a completion batch, its
//! TypeScript name, its default message and how many images it reports, declared once with
//! [`call_results!`](crate::call_results) (defined here, invoked in `models.rs` beside the
//! response models); the [`Envelope`] every result carries; and [`Failure`], a failed call.
//! The fields themselves are encoded and described by `layout.rs`.

use crate::layout::{Model, Shape, Sink, Wire};
#[cfg(feature = "samples")]
use crate::layout::{Sample, Samples};
use crate::prepare::Upload;

/// A call's result and what each of its images was uploaded as, in the call's order (`None`
/// where a compare side was a user token; empty for calls without images), with the
/// [`Envelope`] every result carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Uploaded<T> {
    pub result: T,
    pub uploads: Vec<Option<Upload>>,
    pub envelope: Envelope,
}

impl<T> Uploaded<T> {
    /// A result and its uploads, with a default envelope.
    pub fn new(result: T, uploads: Vec<Option<Upload>>) -> Self {
        Uploaded {
            result,
            uploads,
            envelope: Envelope::default(),
        }
    }

    /// A result of a call without images.
    pub fn bare(result: T) -> Self {
        Uploaded::new(result, Vec::new())
    }
}

crate::wire_model! {
    /// What every result carries besides its own fields (after them and the uploads): a field
    /// added here reaches every result of every call, its decoder and its TypeScript type.
    #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
    pub struct Envelope {
        /// The id of the call's last request: the server's (its `x-request-id`, `x-amzn-requestid`, `x-amz-request-id` or `request-id` response header) when it sent one, else the `X-Request-Id` the SDK sent (the same on every attempt of the call). Give it to Perse support.
        pub request_id: String,
        /// What the call did, attempt by attempt: present only when the call was traced (a `diagnostics_channel` subscriber, `NODE_DEBUG=perse-node` or a `logger` when it started). See docs/observability.md.
        pub trace: Option<CallTrace>,
    }
}

crate::wire_model! {
    /// One HTTP attempt of a traced call.
    #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
    pub struct AttemptTrace {
        /// The HTTP status, when a response came.
        pub status: Option<u16>,
        /// How long the attempt took, in milliseconds (sending the request and reading the response).
        pub ms: f64,
        /// The error code of a failed attempt (`server_error`, `timeout`, `network_error`, `unauthorized`, ...).
        pub code: Option<String>,
        /// What the SDK did next: `'done'`, `'retry'`, `'refresh'` (a new token, then the same request again) or `'fail'`.
        pub next: String,
    }
}

crate::wire_model! {
    /// What a traced call did (see docs/observability.md).
    #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
    pub struct CallTrace {
        /// The call's own HTTP attempts, in order (a token refresh's `/login` is not among them).
        pub attempts: Vec<AttemptTrace>,
        /// The call fetched a new token (a login with the private key, or `onTokenRefresh`): none was held, it was about to expire, or the server answered 401.
        pub refreshed: bool,
    }
}

/// Declares the calls' results: each one's batch tag, JS type, default message and how many
/// images it reports, and the `CallResult` enum that carries them. Invoked once, in
/// `models.rs`, next to the response models it names, so a call's result is declared in one
/// file.
#[macro_export]
macro_rules! call_results {
    ($( $tag:literal $variant:ident($model:ty) $ts:literal $doc:literal, uploads $uploads:literal, message $message:literal; )*) => {
        /// A call's result, as the completion queue encodes it.
        #[derive(Clone, Debug, PartialEq)]
        pub enum CallResult {
            $( $variant($crate::results::Uploaded<$model>), )*
        }

        /// Every call result: what the generator needs to decode and type it.
        pub fn results() -> Vec<$crate::results::ResultInfo> {
            vec![$(
                $crate::results::ResultInfo {
                    tag: $tag,
                    name: stringify!($variant),
                    ts: $ts,
                    doc: $doc,
                    uploads: $uploads,
                    message: $message,
                    shape: <$model as $crate::layout::Model>::shape(),
                },
            )*]
        }

        impl CallResult {
            /// Writes the tag, the model's fields, the uploads, then the envelope.
            pub fn put(&self, out: &mut $crate::layout::Sink) {
                match self {
                    $( CallResult::$variant(e) => {
                        out.num($tag as f64);
                        $crate::layout::Model::put_fields(&e.result, out);
                        $crate::results::put_uploads(&e.uploads, $uploads, out);
                        $crate::layout::Model::put_fields(&e.envelope, out);
                    } )*
                }
            }

            /// The envelope, whatever the call: where a value for every result is set in one
            /// place (the client addon's `Hub::launch` sees every call's outcome).
            pub fn envelope_mut(&mut self) -> &mut $crate::results::Envelope {
                match self {
                    $( CallResult::$variant(e) => &mut e.envelope, )*
                }
            }

            /// With the call's request id and trace in its envelope.
            pub fn with_facts(mut self, request_id: Option<String>, trace: Option<$crate::results::CallTrace>) -> Self {
                let e = self.envelope_mut();
                e.request_id = request_id.unwrap_or_default();
                e.trace = trace;
                self
            }
        }

        #[cfg(feature = "samples")]
        impl CallResult {
            /// One sample of every result, with its model's serde JSON.
            pub fn samples(s: &mut $crate::layout::Samples) -> Vec<(CallResult, serde_json::Value)> {
                let mut out = Vec::new();
                $(
                    let e = $crate::results::Uploaded {
                        result: <$model as $crate::layout::Sample>::sample(s),
                        uploads: $crate::results::upload_samples(s, $uploads),
                        envelope: <$crate::results::Envelope as $crate::layout::Sample>::sample(s),
                    };
                    let json = serde_json::json!({
                        "result": serde_json::to_value(&e.result).unwrap_or_default(),
                        "uploads": serde_json::to_value(&e.uploads).unwrap_or_default(),
                        "envelope": serde_json::to_value(&e.envelope).unwrap_or_default(),
                    });
                    out.push((CallResult::$variant(e), json));
                )*
                out
            }
        }
    };
}

/// What the generator knows of one call result.
pub struct ResultInfo {
    /// Its tag in a batch (0 is a failure).
    pub tag: u8,
    /// Its variant in [`CallResult`] (`Detect`, ...).
    pub name: &'static str,
    /// The TypeScript type name.
    pub ts: &'static str,
    pub doc: &'static str,
    /// Images it reports: 0, 1 (`uploaded`) or 2 (`uploaded: { a, b }`).
    pub uploads: usize,
    /// The message when the server sends none.
    pub message: &'static str,
    pub shape: Shape,
}

/// The tag of a failure in a batch, before the [`Failure`]'s fields.
pub const FAILED: u8 = 0;

/// `n` optional uploads (for `call_results!`).
#[doc(hidden)]
pub fn put_uploads(uploads: &[Option<Upload>], n: usize, out: &mut Sink) {
    for i in 0..n {
        uploads.get(i).copied().flatten().put(out);
    }
}

crate::wire_model! {
    /// A failed call, as `lib/errors.js` builds its `PerseError`.
    #[derive(Clone, Debug, PartialEq, serde::Serialize)]
    pub struct Failure {
        pub code: String,
        pub message: String,
        pub http_status: Option<u16>,
        pub retryable: bool,
        pub attempts: u32,
        pub cause: Option<String>,
        pub request_id: Option<String>,
        pub trace: Option<CallTrace>,
    }
}

impl From<&crate::Error> for Failure {
    fn from(e: &crate::Error) -> Self {
        Failure {
            code: e.code().to_string(),
            message: e.to_string(),
            http_status: e.http_status(),
            retryable: e.retryable,
            attempts: e.attempts,
            cause: e.cause().map(str::to_string),
            request_id: None,
            trace: None,
        }
    }
}

impl Failure {
    /// With the call's request id and trace (see [`Envelope`]; the request loop's `CallLog`
    /// knows them).
    pub fn with_facts(mut self, request_id: Option<String>, trace: Option<CallTrace>) -> Self {
        self.request_id = request_id;
        self.trace = trace;
        self
    }
}

impl Failure {
    /// Writes the failure tag, then the fields.
    pub fn put(&self, out: &mut Sink) {
        out.num(f64::from(FAILED));
        self.put_fields(out);
    }
}

/// `n` uploads: present, or absent (a compare side given by token).
#[cfg(feature = "samples")]
#[doc(hidden)]
pub fn upload_samples(s: &mut Samples, n: usize) -> Vec<Option<Upload>> {
    (0..n).map(|_| Option::<Upload>::sample(s)).collect()
}
