//! `prepareImage`: what the SDK would upload for an image, without sending it.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{Error, ImageFormat, PrepareOptions as CorePrepareOptions, Prepared};

use crate::error::{fail, spawn, ErrorInfo, Outcome};
use crate::image_arg::image_source;
use crate::options::{apply_prepare, count};

crate::js_options::js_options! {
    #[doc = "Options of `prepareImage`."]
    pub struct PrepareOptions [PREPARE_KEYS] {
        #[doc = "`'auto'` (default) and `'fit'` pass an upright JPEG or PNG under the limit through and convert, orient or shrink anything else; `'validate'` checks and passes the bytes through."]
        #[napi(ts_type = "'validate' | 'fit' | 'auto'")]
        "prepare" prepare: Option<String>,
        #[doc = "Upload limit in bytes; default 1000000."]
        "maxUploadBytes" max_upload_bytes: Option<f64>,
        #[doc = "Images declaring more pixels are refused from their header; default 40000000."]
        "maxPixels" max_pixels: Option<f64>,
        #[doc = "`'fit'` re-encodes to at most this many pixels on the longer side (16 to 16384); default 1600."]
        "maxDimension" max_dimension: Option<f64>,
        #[doc = "`'fit'` JPEG quality 1-100; default 85."]
        "quality" quality: Option<f64>,
        #[doc = "`'fit'` refuses inputs over this many bytes before reading them; default 50000000."]
        "maxInputBytes" max_input_bytes: Option<f64>,
    }
}

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
    let prepared = convert(options.unwrap_or_default()).and_then(|opts| Ok((image_source(image, &opts, None)?, opts)));
    match prepared {
        Ok((src, opts)) => spawn(env, perse_core::prepare_source(src, opts)),
        Err(e) => fail(env, e),
    }
}

/// The most bytes `prepareImage` reads from a Blob, Response or stream under these options
/// (the same budget as a call's: `maxUploadBytes` for `'validate'`, else `maxInputBytes`).
#[napi(catch_unwind)]
pub fn prepare_read_budget(options: Option<PrepareOptions>) -> Either<f64, ErrorInfo> {
    match convert(options.unwrap_or_default()) {
        Ok(p) => Either::A(p.input_budget() as f64),
        Err(e) => Either::B(e.into()),
    }
}

fn convert(o: PrepareOptions) -> std::result::Result<CorePrepareOptions, Error> {
    let mut p = CorePrepareOptions::default(); // mode Auto
    apply_prepare(
        &mut p,
        o.prepare.as_deref(),
        o.max_upload_bytes,
        o.max_input_bytes,
        o.max_pixels,
    )?;
    if let Some(n) = o.max_dimension {
        p.max_dimension = count("maxDimension", n)?;
    }
    if let Some(q) = o.quality {
        p.quality = count("quality", q)?;
    }
    Ok(p)
}
