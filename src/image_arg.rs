//! An image as `index.js` hands it over: already normalised to a Buffer or a path.

use bytes::Bytes;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use perse_core::{CompareInput, Error, ImageSource};

/// Exactly one of `data`, `path` or `userToken` is set.
#[napi(object)]
pub struct ImageArg {
    /// Image bytes (Buffer, Uint8Array or ArrayBuffer on the JS side, shared without a copy).
    pub data: Option<Buffer>,
    /// A file path, read on a worker thread.
    pub path: Option<String>,
    /// An enrolled user's token (compare only).
    pub user_token: Option<String>,
}

impl ImageArg {
    pub fn into_source(self, name: &str) -> Result<ImageSource, Error> {
        match (self.data, self.path) {
            (Some(buf), None) => Ok(ImageSource::Bytes(Bytes::from_owner(buf))),
            (None, Some(p)) if !p.is_empty() => Ok(ImageSource::Path(p.into())),
            _ => Err(Error::invalid(format!(
                "{name} must be a Buffer, Uint8Array, ArrayBuffer or a non-empty file path string"
            ))),
        }
    }

    pub fn into_compare(self, name: &str) -> Result<CompareInput, Error> {
        match self {
            ImageArg {
                user_token: Some(t),
                data: None,
                path: None,
            } => Ok(CompareInput::UserToken(t)),
            ImageArg { user_token: None, .. } => self.into_source(name).map(CompareInput::Image),
            _ => Err(Error::invalid(format!(
                "{name} must be an image or {{ userToken }}, not both"
            ))),
        }
    }
}
