//! `prepareImage`: what the SDK would upload for an image, without sending it.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{ImageFormat, Prepared};
use perse_napi_edge::{fail, spawn, ErrorInfo, Outcome};

use crate::image_arg::image_source;
use crate::options::PrepareOptions;

/// What would be uploaded.
#[napi(object)]
pub struct PreparedImage {
    pub data: Buffer,
    pub width: u32,
    pub height: u32,
    #[napi(ts_type = "'jpeg' | 'png'")]
    pub format: String,
    /// Pixels were downscaled.
    pub resized: bool,
    /// An EXIF orientation was applied to the pixels.
    pub orientation_applied: bool,
}

impl From<Prepared> for PreparedImage {
    fn from(p: Prepared) -> Self {
        PreparedImage {
            data: Vec::from(p.data).into(),
            width: p.width,
            height: p.height,
            format: if p.format == ImageFormat::Png { "png" } else { "jpeg" }.into(),
            resized: p.resized,
            orientation_applied: p.orientation_applied,
        }
    }
}

/// Prepares an image as an upload would, on a worker thread. `image` is a path or bytes
/// (copied here).
#[napi(ts_return_type = "Promise<PreparedImage | ErrorInfo>", catch_unwind)]
pub fn prepare_image<'env>(
    env: &'env Env,
    image: Option<Unknown<'_>>,
    options: Option<PrepareOptions>,
) -> Result<PromiseRaw<'env, Outcome<PreparedImage>>> {
    let prepared = options
        .unwrap_or_default()
        .to_core()
        .and_then(|opts| Ok((image_source(image, &opts, None)?, opts)));
    match prepared {
        Ok((src, opts)) => spawn(env, perse_core::prepare_source(src, opts)),
        Err(e) => fail(env, e),
    }
}

/// The most bytes `prepareImage` reads from a Blob, Response or stream under these options
/// (the same budget as a call's: `maxUploadBytes` for `'validate'`, else `maxInputBytes`).
#[napi(catch_unwind)]
pub fn prepare_read_budget(options: Option<PrepareOptions>) -> Either<f64, ErrorInfo> {
    match options.unwrap_or_default().to_core() {
        Ok(p) => Either::A(p.input_budget() as f64),
        Err(e) => Either::B(e.into()),
    }
}
