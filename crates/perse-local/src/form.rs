//! Multipart parsing and the contract's validation rules for image and text fields.

use bytes::Bytes;

use crate::controls::{clip, RecordedField};
use crate::reply::Reject;

/// The local server's reading of the API's "1 MB": 1,048,576 bytes.
pub const MAX_FILE_BYTES: usize = 1_048_576;

pub const CONSENT: &str = "client_declaration_enduser_consent";

/// Parts a form may have: the contract's forms have four at most. More is refused before the
/// rest of the body is parsed.
pub const MAX_PARTS: usize = crate::controls::MAX_RECORDED_FIELDS;

pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

pub struct Form {
    pub parts: Vec<Part>,
}

impl Form {
    /// Parses a multipart body; `content_type_header_missing` when it is not multipart.
    pub async fn parse(content_type: Option<&str>, body: Bytes) -> Result<Form, Reject> {
        let boundary = content_type
            .filter(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                Reject::new(
                    400,
                    "content_type_header_missing",
                    "the request must be multipart/form-data",
                )
            })?;
        let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
        let mut mp = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    return Err(Reject::new(
                        400,
                        "form_key_missing",
                        &format!("malformed multipart body: {e}"),
                    ))
                }
            };
            if parts.len() == MAX_PARTS {
                return Err(Reject::new(
                    400,
                    "form_key_missing",
                    &format!("the form has more than {MAX_PARTS} fields"),
                ));
            }
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.to_string());
            let data = field
                .bytes()
                .await
                .map_err(|e| Reject::new(400, "form_key_missing", &format!("malformed multipart body: {e}")))?;
            parts.push(Part {
                name,
                filename,
                content_type,
                data,
            });
        }
        Ok(Form { parts })
    }

    pub fn get(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
    }

    /// The consent declaration must be present and `true`.
    pub fn require_consent(&self) -> Result<(), Reject> {
        match self.text(CONSENT).as_deref() {
            Some("true") => Ok(()),
            _ => Err(Reject::new(
                400,
                "consent_required",
                "client_declaration_enduser_consent=true is required: the end user must consent",
            )),
        }
    }

    /// An image field's bytes after the contract's checks.
    pub fn image(&self, name: &str) -> Result<Bytes, Reject> {
        let part = self
            .get(name)
            .ok_or_else(|| Reject::new(400, "form_key_missing", &format!("the form field '{name}' is missing")))?;
        // The client's own pre-upload check, with the server's limit: same rules on both sides.
        match perse_core::validate_upload(&part.data, MAX_FILE_BYTES) {
            Ok(_) => Ok(part.data.clone()),
            Err(e) => {
                let status = match e.code() {
                    "file_too_large" => 413,
                    "invalid_file_type" => 415,
                    _ => 400,
                };
                Err(Reject::new(status, e.code(), &format!("{name}: {e}")))
            }
        }
    }

    pub fn recorded(&self) -> Vec<RecordedField> {
        self.parts
            .iter()
            .map(|p| RecordedField {
                name: clip(&p.name),
                filename: p.filename.as_deref().map(clip),
                content_type: p.content_type.as_deref().map(clip),
                size: p.data.len(),
                value: p.filename.is_none().then(|| clip(&String::from_utf8_lossy(&p.data))),
            })
            .collect()
    }
}
