//! The seven calls of the Perse API. Each checks its inputs before touching the network,
//! builds a [`Request`] (multipart with the consent field, or bodiless), and hands it to the
//! request loop inside [`Client::run`]. [`CALLS`] lists them for bindings (`calls!`, see
//! `calls.rs`): each one's JS name, tracing operation, request and arguments, and how
//! [`Client::call`] launches it, so a binding reads arguments by kind and knows no call by
//! name (a new call is a method and a line here).

use std::sync::Arc;

use reqwest::Method;

use crate::auth::check_private_key;
use crate::calls::calls;
use crate::client::{CallOptions, Client, CompareInput};
use crate::error::{Error, ErrorKind, Result};
use crate::image::ImageSource;
use crate::models::CallResult;
use crate::models::*;
use crate::multipart::Multipart;
use crate::prepare::Upload;
use crate::results::Uploaded;
use crate::transport::{Body, Request};

const CONSENT_FIELD: &str = "client_declaration_enduser_consent";

calls! { c, o;
    "login" as "login", POST "/login" (key: Text("privateKey")) =>
        c.login(&key, o).await.map(|token| CallResult::Login(Uploaded::bare(LoginResponse { token })));
    "detect" as "detect", POST "/face/detect" (image: Image) => c.detect(image, o).await.map(CallResult::Detect);
    "compare" as "compare", POST "/face/compare" (a: Side, b: Side) => c.compare(a, b, o).await.map(CallResult::Compare);
    "enroll" as "enroll", POST "/face/enrollment" (image: Image) => c.enroll(image, o).await.map(CallResult::Enroll);
    "list" as "enrollment.list", GET "/face/enrollment/list" () =>
        c.list(o).await.map(|r| CallResult::List(Uploaded::bare(r)));
    "update" as "enrollment.update", PUT "/face/enrollment" (token: Text("userToken"), image: Image) =>
        c.update(&token, image, o).await.map(CallResult::Enroll);
    "delete" as "enrollment.delete", DELETE "/face/enrollment/{userToken}" (token: Text("userToken")) =>
        c.delete(&token, o).await.map(|r| CallResult::Delete(Uploaded::bare(r)));
}

impl Client {
    /// `POST /login`: exchanges a private key for a session token, stores and returns it.
    pub async fn login(&self, private_key: &str, opts: &CallOptions) -> Result<String> {
        self.run(opts, async {
            check_private_key(private_key)?;
            self.auth.remember(Arc::from(private_key));
            let token = self.do_login(private_key, opts).await?;
            self.auth.set_token(Some(token.clone()));
            Ok(token)
        })
        .await
    }

    /// `POST /face/detect`. Boxes and landmarks come back in the pixels of the caller's photo
    /// as a viewer displays it (EXIF orientation applied, full resolution), whatever was uploaded.
    pub async fn detect(&self, image: ImageSource, opts: &CallOptions) -> Result<Uploaded<DetectResponse>> {
        let parts = vec![Part::Image("image_file", image)];
        let (mut result, uploads): (DetectResponse, _) =
            self.upload(Method::POST, "/face/detect", parts, true, opts).await?;
        if let Some(Some(up)) = uploads.first() {
            for f in &mut result.faces {
                f.bounding_box = up.box_to_source(f.bounding_box);
                if let Some(l) = &mut f.landmarks {
                    for p in [
                        &mut l.right_eye,
                        &mut l.left_eye,
                        &mut l.nose,
                        &mut l.mouth_right,
                        &mut l.mouth_left,
                    ] {
                        *p = up.point_to_source(*p).map(|v| (v * 100.0).round() / 100.0);
                    }
                }
            }
        }
        Ok(Uploaded::new(result, uploads))
    }

    /// `POST /face/compare`; either side may be an enrolled user's token.
    pub async fn compare(
        &self,
        a: CompareInput,
        b: CompareInput,
        opts: &CallOptions,
    ) -> Result<Uploaded<CompareResponse>> {
        let side = |input, file, token, what| match input {
            CompareInput::Image(src) => Part::Image(file, src),
            CompareInput::UserToken(t) => Part::UserToken(token, t, what),
        };
        let parts = vec![
            side(a, "image_file1", "image_token1", "first userToken"),
            side(b, "image_file2", "image_token2", "second userToken"),
        ];
        let (result, uploads) = self.upload(Method::POST, "/face/compare", parts, true, opts).await?;
        Ok(Uploaded::new(result, uploads))
    }

    /// `POST /face/enrollment`. Never resent once the server may have seen it.
    pub async fn enroll(&self, image: ImageSource, opts: &CallOptions) -> Result<Uploaded<EnrollResponse>> {
        let parts = vec![Part::Image("image_file", image)];
        let (result, uploads) = self
            .upload(Method::POST, "/face/enrollment", parts, false, opts)
            .await?;
        Ok(Uploaded::new(result, uploads))
    }

    /// `GET /face/enrollment/list`.
    pub async fn list(&self, opts: &CallOptions) -> Result<ListResponse> {
        let req = bodiless(Method::GET, "/face/enrollment/list".into());
        self.run(opts, self.execute(req, opts, true)).await
    }

    /// `PUT /face/enrollment`: replaces the biometric data of `user_token`.
    pub async fn update(
        &self,
        user_token: &str,
        image: ImageSource,
        opts: &CallOptions,
    ) -> Result<Uploaded<EnrollResponse>> {
        let parts = vec![
            Part::Image("image_file", image),
            Part::UserToken("user_token", user_token.to_string(), "userToken"),
        ];
        let (result, mut uploads) = self.upload(Method::PUT, "/face/enrollment", parts, false, opts).await?;
        uploads.truncate(1);
        Ok(Uploaded::new(result, uploads))
    }

    /// `DELETE /face/enrollment/{user_token}`.
    pub async fn delete(&self, user_token: &str, opts: &CallOptions) -> Result<DeleteResponse> {
        self.run(opts, async {
            check_user_token(user_token, "userToken")?;
            let path = format!("/face/enrollment/{}", encode_segment(user_token));
            self.execute(bodiless(Method::DELETE, path), opts, true).await
        })
        .await
    }

    /// A multipart call: consent first, then the user tokens are checked, then the images are
    /// prepared (under the call's time limit), in field order, and the consent field ends it.
    async fn upload<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        parts: Vec<Part>,
        idempotent: bool,
        opts: &CallOptions,
    ) -> Result<(T, Vec<Option<Upload>>)> {
        self.run(opts, async {
            if !opts.consent {
                return Err(ErrorKind::ConsentRequired.into());
            }
            for p in &parts {
                if let Part::UserToken(_, t, what) = p {
                    check_user_token(t, what)?;
                }
            }
            let mut m = Multipart::new();
            let mut uploads = Vec::with_capacity(parts.len());
            for p in parts {
                uploads.push(match p {
                    Part::Image(field, src) => Some(self.add_image(&mut m, field, src, opts).await?),
                    Part::UserToken(field, t, _) => {
                        m.text(field, &t);
                        None
                    }
                });
            }
            m.text(CONSENT_FIELD, "true");
            let (content_type, body) = m.finish();
            let req = Request {
                method,
                path: path.into(),
                body: Body::Multipart { content_type, body },
                idempotent,
            };
            Ok((self.execute(req, opts, true).await?, uploads))
        })
        .await
    }
}

/// A form field of an upload: an image, or a user token (with its name for error messages).
enum Part {
    Image(&'static str, ImageSource),
    UserToken(&'static str, String, &'static str),
}

fn bodiless(method: Method, path: String) -> Request {
    Request {
        method,
        path,
        body: Body::Empty,
        idempotent: true,
    }
}

/// A user token as it may appear in a form field or a path segment. `.` and `..` (also
/// percent-encoded) are refused: as a path segment, URL parsers resolve them as "here" and
/// "up", so `DELETE /face/enrollment/..` would address another resource.
fn check_user_token(t: &str, what: &str) -> Result<()> {
    if t.trim().is_empty() {
        return Err(Error::invalid(format!("{what} must be a non-empty string")));
    }
    if t.len() > 4096 || t.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(format!(
            "{what} is not a valid user token (too long or has control characters)"
        )));
    }
    let decoded = t.replace("%2e", ".").replace("%2E", ".");
    if decoded == "." || decoded == ".." {
        return Err(Error::invalid(format!("{what} is not a valid user token ('{t}')")));
    }
    Ok(())
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters pass).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::Arg;

    #[test]
    fn every_call_in_the_table_is_dispatched() {
        // A name in CALLS without its arm (or the reverse) cannot compile, but a call number
        // past the table must fail cleanly, and names must be unique for the JS lookup.
        let names: std::collections::BTreeSet<_> = CALLS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CALLS.len());
        let client = Client::new(crate::Config::default()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(client.call(CALLS.len(), Vec::new(), &CallOptions::default()))
            .unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
        // Arguments of the wrong kind are refused before anything is sent.
        let err = rt
            .block_on(client.call(
                0,
                vec![Arg::Image(ImageSource::Bytes(Vec::new().into()))],
                &CallOptions::default(),
            ))
            .unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
    }

    #[test]
    fn segment_encoding_and_dot_segments() {
        assert_eq!(encode_segment("abc-123_x.y~"), "abc-123_x.y~");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
        for bad in [".", "..", "%2e", "%2E%2e", ".%2E"] {
            assert_eq!(
                check_user_token(bad, "t").unwrap_err().code(),
                "invalid_argument",
                "{bad}"
            );
        }
        assert!(check_user_token("...", "t").is_ok());
        assert!(check_user_token("usr_1.2", "t").is_ok());
    }
}
