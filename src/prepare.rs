//! `prepareImage`: what the SDK would upload for an image, without sending it.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use perse_core::{Error, ImageFormat, PrepareMode, PrepareOptions as CorePrepareOptions, Prepared};

use crate::image_arg::ImageArg;
use crate::options::{positive_int, prepare_mode};
use crate::outcome::{fail, spawn, Outcome};

/// Options of `prepareImage`.
#[napi(object)]
#[derive(Default)]
pub struct PrepareOptions {
    /// `'validate'` (default) checks and passes the bytes through; `'fit'` converts and shrinks.
    #[napi(ts_type = "'validate' | 'fit'")]
    pub prepare: Option<String>,
    /// Upload limit in bytes; default 1000000.
    pub max_upload_bytes: Option<f64>,
    /// Images declaring more pixels are refused from their header; default 40000000.
    pub max_pixels: Option<f64>,
    /// `'fit'` re-encodes to at most this many pixels on the longer side; default 1600.
    pub max_dimension: Option<f64>,
    /// `'fit'` JPEG quality 1-100; default 85.
    pub quality: Option<f64>,
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

/// Prepares an image as an upload would, on a worker thread.
#[napi(ts_return_type = "Promise<PreparedImage | ErrorInfo>")]
pub fn prepare_image(
    env: &Env,
    image: ImageArg,
    options: Option<PrepareOptions>,
) -> Result<PromiseRaw<'_, Outcome<PreparedImage>>> {
    let prepared = image
        .into_source("image", None)
        .and_then(|src| Ok((src, convert(options.unwrap_or_default())?)));
    match prepared {
        Ok((src, opts)) => spawn(env, perse_core::prepare_source(src, opts)),
        Err(e) => fail(env, e),
    }
}

fn convert(o: PrepareOptions) -> std::result::Result<CorePrepareOptions, Error> {
    let mode = match o.prepare.as_deref() {
        Some(m) => prepare_mode(m)?,
        None => PrepareMode::Validate,
    };
    let mut p = CorePrepareOptions {
        mode,
        ..CorePrepareOptions::default()
    };
    if let Some(n) = o.max_upload_bytes {
        p.max_upload_bytes = positive_int("maxUploadBytes", n)? as usize;
    }
    if let Some(n) = o.max_pixels {
        p.max_pixels = positive_int("maxPixels", n)?;
    }
    if let Some(n) = o.max_dimension {
        p.max_dimension = positive_int("maxDimension", n)?.clamp(16, 16_384) as u32;
    }
    if let Some(q) = o.quality {
        if !(1.0..=100.0).contains(&q) {
            return Err(Error::invalid("quality must be between 1 and 100"));
        }
        p.quality = q as u8;
    }
    Ok(p)
}
