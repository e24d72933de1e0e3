//! Every `PerseError` code, declared once: what it means when the API answers with it, when
//! the SDK raises it itself and whether that is retryable, and the TypeScript group it
//! belongs to. `Error::code` names codes through [`Code`]; `npm run generate` writes from
//! [`CODES`] the `PerseErrorCode` types in `index.d.ts`, the two tables of `docs/errors.md`
//! and `lib/codes.generated.js`, the list that `lib/errors.js` allows `fail()` to raise.

/// The TypeScript union a code is listed in (besides `PerseErrorCode`, which has them all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Listed in `PerseErrorCode` itself.
    None,
    /// `ImageErrorCode`: an image refused before anything is uploaded.
    Image,
    /// `RequestErrorCode`: what any call that sends a request can reject with.
    Request,
}

/// One code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInfo {
    pub code: &'static str,
    pub group: Group,
    /// What it means when the server answers with it (a contract code), if it can.
    pub server: Option<&'static str>,
    /// When the SDK raises it itself, and whether repeating may help (`retryable`), if it does.
    pub client: Option<(&'static str, &'static str)>,
}

macro_rules! codes {
    ($( $variant:ident $code:literal $group:ident server $server:expr, client $client:expr; )*) => {
        /// A code of [`CODES`], for Rust code that raises it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code {
            $( $variant, )*
        }

        impl Code {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Code::$variant => $code, )*
                }
            }
        }

        /// Every code, in the order the docs list them.
        pub const CODES: &[CodeInfo] = &[
            $( CodeInfo { code: $code, group: Group::$group, server: $server, client: $client }, )*
        ];
    };
}

codes! {
    ConsentRequired "consent_required" None
        server Some("The consent field was missing (the SDK itself refuses such a call before sending it)."),
        client Some(("`enduserConsent: true` missing on a biometric call. Nothing was read or sent.", "no"));
    InvalidArgument "invalid_argument" None
        server None,
        client Some(("A wrong argument, option type or range, an unknown option, an invalid `baseUrl`, an unreadable image file or stream (a source that failed, a Blob whose file changed, an input object whose getter or method threw or gave something else than bytes, with the error as `cause`), a damaged local-server `dataDir` store, or `login` answered 400.", "no"));
    FileNotFound "file_not_found" Image
        server None,
        client Some(("The image path does not exist.", "no"));
    EmptyFile "empty_file" Image
        server Some("An image part is empty or missing (also raised locally, see below)."),
        client Some(("The image has 0 bytes (checked locally).", "no"));
    InvalidFileType "invalid_file_type" Image
        server Some("Not a JPEG or PNG (also raised locally)."),
        client Some(("Not an image the SDK can send or convert, judged by content; a truncated JPEG or PNG; corrupt EXIF; more pixels than `maxPixels` (checked locally).", "no"));
    FileTooLarge "file_too_large" Image
        server Some("An image is larger than the server's limit (also raised locally)."),
        client Some(("The image is over the budget: `maxUploadBytes` with `prepare: 'validate'`, `maxInputBytes` otherwise (checked locally, before upload).", "no"));
    NetworkError "network_error" Request
        server None,
        client Some(("Connection refused or reset, DNS or TLS failure, or the connection broke mid-request; also a `Response` input whose body failed mid-read (its own connection reset: `cause` holds fetch's error; not retried, the body is gone).", "yes for idempotent calls; for enroll/update only after a connect failure"));
    Timeout "timeout" Request
        server None,
        client Some(("An attempt exceeded `timeoutMs`, reading a Blob or stream took longer than `timeoutMs`, or the server answered `408`.", "yes for idempotent calls"));
    Aborted "aborted" Request
        server None,
        client Some(("The call's `AbortSignal` fired.", "no"));
    ServerError "server_error" Request
        server None,
        client Some(("A `5xx` that retries did not cure. The message has the status and the server's message, if any.", "yes for 500/502/503/504 on idempotent calls"));
    RateLimited "rate_limited" Request
        server None,
        client Some(("A `429` that retries did not cure (`httpStatus: 429`).", "yes for idempotent calls"));
    ResponseTooLarge "response_too_large" Request
        server None,
        client Some(("A success body larger than `maxResponseBytes`. Not retried.", "no"));
    UnexpectedError "unexpected_error" Request
        server None,
        client Some(("A response the SDK can't understand: non-JSON or HTML, an empty or truncated body, an unknown error code, an unexpected status such as a redirect or a 404 with no Perse body, or a success body that doesn't match the contract. The message names the HTTP status (and, for a 404 from a base URL without `/v0`, suggests it).", "no, except a body cut short on an idempotent call"));
    TokenRefreshFailed "token_refresh_failed" Request
        server None,
        client Some(("The `onTokenRefresh` callback threw, rejected, returned something other than a valid token, or didn't settle within `timeoutMs`. `cause` holds its message.", "yes"));
    ClientClosed "client_closed" Request
        server None,
        client Some(("The client was closed before or during the call.", "no"));
    InternalError "internal_error" Request
        server None,
        client Some(("A bug in the SDK was caught, for example a Rust panic. Panics never cross into Node; please report these.", "no"));
    LocalServerUnavailable "local_server_unavailable" None
        server None,
        client Some(("`startLocalServer` (or `perse-node serve` / `--local`) without the `perse-node-local` package, with another version of it, or with no binary of it for this platform. The message gives the exact `npm install` command.", "no"));
    ContentTypeHeaderMissing "content_type_header_missing" Request
        server Some("The request was not `multipart/form-data`."),
        client None;
    NoFaceDetected "no_face_detected" None
        server Some("No face found in at least one image."),
        client None;
    FormKeyMissing "form_key_missing" Request
        server Some("A required image or token field is missing."),
        client None;
    NotSimilar "not_similar" None
        server Some("The faces are not similar enough."),
        client None;
    BadImageQuality "bad_image_quality" None
        server Some("Over- or under-exposed, or not sharp enough."),
        client None;
    ImageUnderexposed "image_underexposed" None
        server Some("Enrollment only: too dark to enroll."),
        client None;
    ImageOverexposed "image_overexposed" None
        server Some("Enrollment only: too bright to enroll."),
        client None;
    UserTokenNotFound "user_token_not_found" None
        server Some("The user token does not exist (update, delete, compare by token)."),
        client None;
    NoFaceBiometricData "no_face_biometric_data" None
        server Some("The user token has no biometric data."),
        client None;
    Unauthorized "unauthorized" Request
        server Some("The JWT is missing, invalid or expired. Also raised locally when the client has no credentials at all (no token, `privateKey`, `onTokenRefresh` or `PERSE_PRIVATE_KEY`): then nothing is sent, and there is no `httpStatus`. Also raised when `login` is given an invalid key."),
        client None;
}

/// Whether a server may answer with `code` as it is (any other becomes `unexpected_error`).
pub fn is_server_code(code: &str) -> bool {
    CODES.iter().any(|c| c.code == code && c.server.is_some())
}

/// The JSDoc of `PerseErrorCode` and of each group, for the generated TypeScript.
pub const UNION_DOCS: [(&str, &str); 3] = [
    (
        "PerseErrorCode",
        "The code of a {@link PerseError}: client-side and server-side codes (docs/errors.md says when each one happens). A server code the SDK does not know (from a newer server, say) arrives as `'unexpected_error'`. The JSDoc of each call names the codes it can reject with, using the groups {@link ImageErrorCode} and {@link RequestErrorCode} for the codes many calls share.",
    ),
    (
        "ImageErrorCode",
        "An image refused before anything is uploaded: missing, empty, not a usable image, or over the byte budget.",
    ),
    (
        "RequestErrorCode",
        "What any call that sends a request can reject with: the credentials were refused or could not be had (`unauthorized`, `token_refresh_failed`), the transport failed (`network_error`, `timeout`, `rate_limited`, `server_error`), the answer was unusable (`unexpected_error`, `response_too_large`, and the contract codes `content_type_header_missing` and `form_key_missing`, which this SDK's requests should never get), the call was stopped (`aborted`, `client_closed`), or a bug was caught (`internal_error`).",
    ),
];
