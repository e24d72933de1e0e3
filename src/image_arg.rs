//! An image as `index.js` hands it over: already normalised to a Buffer or a path.

use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use perse_core::{CompareInput, Error, ImageSource};

use crate::completion::Hub;

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

/// JS-owned bytes lent to a call. When the last user drops them (on any thread), the
/// buffer goes back to the client's hub and its reference is released on the JS thread.
struct Lent {
    buf: Option<Buffer>,
    hub: Arc<Hub>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_deref().unwrap_or_default()
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            self.hub.release(buf);
        }
    }
}

impl ImageArg {
    /// An image given as two positional arguments (the hot path avoids reading an object).
    pub fn bytes_or_path(data: Option<Buffer>, path: Option<String>) -> Self {
        ImageArg {
            data,
            path,
            user_token: None,
        }
    }

    /// The bytes or path; buffers are released through `hub` when given.
    pub fn into_source(self, name: &str, hub: Option<&Arc<Hub>>) -> Result<ImageSource, Error> {
        match (self.data, self.path) {
            (Some(buf), None) => Ok(ImageSource::Bytes(match hub {
                Some(hub) => Bytes::from_owner(Lent {
                    buf: Some(buf),
                    hub: hub.clone(),
                }),
                None => Bytes::from_owner(buf),
            })),
            (None, Some(p)) if !p.is_empty() => Ok(ImageSource::Path(p.into())),
            _ => Err(Error::invalid(format!(
                "{name} must be a Buffer, Uint8Array, ArrayBuffer or a non-empty file path string"
            ))),
        }
    }

    pub fn into_compare(self, name: &str, hub: &Arc<Hub>) -> Result<CompareInput, Error> {
        match self {
            ImageArg {
                user_token: Some(t),
                data: None,
                path: None,
            } => Ok(CompareInput::UserToken(t)),
            ImageArg { user_token: None, .. } => self.into_source(name, Some(hub)).map(CompareInput::Image),
            _ => Err(Error::invalid(format!(
                "{name} must be an image or {{ userToken }}, not both"
            ))),
        }
    }
}
