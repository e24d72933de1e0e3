//! Image preparation before upload. `Validate` checks that the bytes are a complete JPEG or
//! PNG within the limits and sends them unchanged. `Auto` (the default) and `Fit` send an
//! upright JPEG or PNG under the limit byte for byte too, and otherwise decode any common
//! photo (JPEG, PNG, WebP, GIF, BMP, TIFF), apply its EXIF orientation, and re-encode it as a
//! JPEG that fits the upload limit, as large as the limits allow. Both refuse decompression bombs from the
//! header alone, before any pixel buffer exists. CPU-bound: callers run it on a worker thread.
//!
//! `decode.rs` holds the decode jobs and the process-wide gate that bounds their memory;
//! `fit.rs` the decode, orient, resize and encode of `Fit`; `upload.rs` what was uploaded and
//! how its pixels map back to the caller's photo.

mod decode;
mod fit;
mod input;
mod shrink;
#[cfg(test)]
mod tests;
mod upload;

use std::io::Cursor;

use bytes::Bytes;
use image::metadata::Orientation;
use image::{ImageDecoder, ImageReader};

use crate::error::{ErrorKind, Result};
use crate::image::{describe, validate_upload, ImageFormat};
use crate::jpeg;

pub use decode::{prepare_source, DecodeJob, Plan, DECODE_BUDGET_BYTES};
pub use input::check_input_size;
pub use shrink::decode_shrunk;
pub use upload::{Source, Upload};

/// What to do with an image before upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PrepareMode {
    /// Check type, completeness, pixel count and size; send the bytes unchanged.
    Validate,
    /// Convert, orient and shrink into a JPEG under the upload limit when needed.
    Fit,
    /// The default: as `Fit` (an upright JPEG or PNG under the limit goes byte for byte;
    /// anything else is oriented, converted or shrunk), so a phone photo just works.
    #[default]
    Auto,
}

impl PrepareMode {
    /// `'validate'`, `'fit'` or `'auto'`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "validate" => Some(PrepareMode::Validate),
            "fit" => Some(PrepareMode::Fit),
            "auto" => Some(PrepareMode::Auto),
            _ => None,
        }
    }
}

/// Limits for [`prepare`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrepareOptions {
    pub mode: PrepareMode,
    /// Upload limit in bytes (default 1,000,000).
    pub max_upload_bytes: usize,
    /// Images with more pixels are refused from their header (default 40 MP).
    pub max_pixels: u64,
    /// `Fit` re-encodes to at most this many pixels on the longer side (default 1600).
    pub max_dimension: u32,
    /// `Fit` JPEG quality, 1-100 (default 85).
    pub quality: u8,
    /// `Fit` refuses inputs over this many bytes before reading them (default 50,000,000).
    pub max_input_bytes: usize,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            mode: PrepareMode::Auto,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_pixels: 40_000_000,
            max_dimension: 1600,
            quality: 85,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// Default of [`PrepareOptions::max_upload_bytes`], the SDK's reading of the API's "1 MB"
/// limit: safe under both 10^6 and 2^20.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 1_000_000;

/// Default of [`PrepareOptions::max_input_bytes`]: a 48 MP phone JPEG or a large PNG fits.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 50_000_000;

impl PrepareOptions {
    /// The most bytes an input may have: the upload limit when it is sent unchanged, the
    /// input limit when it may be decoded and re-encoded.
    pub fn input_budget(&self) -> usize {
        match self.mode {
            PrepareMode::Validate => self.max_upload_bytes,
            PrepareMode::Fit | PrepareMode::Auto => self.max_input_bytes.max(self.max_upload_bytes),
        }
    }
}

/// What will be (or was) uploaded.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub data: Bytes,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    /// Pixels were resampled (downscaled).
    pub resized: bool,
    /// An EXIF orientation other than "upright" was applied to the pixels.
    pub orientation_applied: bool,
    /// The image it was prepared from.
    pub source: Source,
}

pub(crate) fn invalid(msg: String) -> crate::Error {
    ErrorKind::InvalidFileType(msg).into()
}

/// Prepares `bytes` for upload according to `opts` (decoding inline when needed).
pub fn prepare(bytes: Bytes, opts: &PrepareOptions) -> Result<Prepared> {
    match plan(bytes, opts)? {
        Plan::Ready(p) => Ok(p),
        Plan::Decode(job) => job.run(),
    }
}

/// Reads the headers of `bytes` and decides what preparing it takes; decodes nothing.
pub fn plan(bytes: Bytes, opts: &PrepareOptions) -> Result<Plan> {
    if bytes.is_empty() {
        return Err(ErrorKind::EmptyFile("the image is empty (0 bytes)".into()).into());
    }
    let format = crate::image::sniff(&bytes).ok_or_else(|| {
        invalid(format!(
            "the image is not a supported format: its content looks like {}",
            describe(&bytes)
        ))
    })?;
    if format == ImageFormat::Heif || format == ImageFormat::Avif {
        return Err(invalid(format!(
            "the image is {} (what iPhones and some Android phones save by default), which perse-node cannot \
             decode: convert it to JPEG before the call, for example with sharp: \
             `await sharp(input).rotate().jpeg().toBuffer()`, or ask for JPEG on the page that takes the photo \
             (`<input type=\"file\" accept=\"image/jpeg,image/png\">`)",
            format.name()
        )));
    }
    let (width, height, orientation) = if format == ImageFormat::Jpeg {
        // One light pass over the headers (see jpeg.rs): the hot path of every upload.
        let info = jpeg::scan(&bytes).map_err(|why| invalid(format!("the JPEG image cannot be read: {why}")))?;
        let orientation = info
            .orientation
            .and_then(Orientation::from_exif)
            .unwrap_or(Orientation::NoTransforms);
        (info.width, info.height, orientation)
    } else {
        let (w, h) = header_dimensions(&bytes, format)?;
        (w, h, orientation(&bytes, format)?)
    };
    let source = Source {
        stored_width: width,
        stored_height: height,
        orientation: orientation.to_exif(),
        format,
    };
    if u64::from(width) * u64::from(height) > opts.max_pixels {
        return Err(invalid(format!(
            "the {} image declares {width}x{height} pixels, over the {}-pixel limit",
            format.name(),
            opts.max_pixels
        )));
    }
    let uploadable = matches!(format, ImageFormat::Jpeg | ImageFormat::Png);
    if opts.mode == PrepareMode::Validate || (uploadable && orientation == Orientation::NoTransforms) {
        match validate_upload(&bytes, opts.max_upload_bytes) {
            Ok(format) => {
                return Ok(Plan::Ready(Prepared {
                    data: bytes,
                    width,
                    height,
                    format,
                    resized: false,
                    orientation_applied: false,
                    source,
                }))
            }
            Err(e) if opts.mode == PrepareMode::Validate || e.code() != "file_too_large" => return Err(e),
            Err(_) => {} // Fit: too large, so shrink it below.
        }
    }
    Ok(Plan::Decode(DecodeJob::new(bytes, source, orientation, *opts)))
}

fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32)> {
    reader(bytes)?
        .into_dimensions()
        .map_err(|e| invalid(format!("the {} image cannot be read: {e}", format.name())))
}

pub(crate) fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| invalid(format!("the image cannot be read: {e}")))
}

/// EXIF orientation from TIFF or WebP metadata (upright for the other formats; JPEG's is read
/// by `jpeg::scan`).
fn orientation(bytes: &[u8], format: ImageFormat) -> Result<Orientation> {
    if !matches!(format, ImageFormat::Tiff | ImageFormat::WebP) {
        return Ok(Orientation::NoTransforms);
    }
    let mut decoder = reader(bytes)?
        .into_decoder()
        .map_err(|e| invalid(format!("the {} image cannot be read: {e}", format.name())))?;
    decoder
        .orientation()
        .map_err(|e| invalid(format!("the {} image has corrupt metadata: {e}", format.name())))
}
