//! `Fit`: decode (JPEGs with DCT scaling), apply the EXIF orientation, resize with Lanczos3
//! and encode a JPEG under the upload limit, shrinking until it fits.

use std::io::Cursor;

use fast_image_resize as fir;
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use super::{invalid, reader, PrepareOptions, Prepared, Source};
use crate::error::{ErrorKind, Result};
use crate::image::ImageFormat;

/// Below this long side `Fit` lowers the JPEG quality before it shrinks further.
pub const MIN_LONG_SIDE: u32 = 640;

pub(super) fn fit(bytes: &[u8], source: Source, orientation: Orientation, opts: &PrepareOptions) -> Result<Prepared> {
    let (format, dims) = (source.format, (source.stored_width, source.stored_height));
    let long = dims.0.max(dims.1);
    let target = long.min(opts.max_dimension.clamp(16, 16_384));
    let pixels = decode_rgb(bytes, format, dims, target, opts)?;
    let mut long_side = target;
    let mut quality = opts.quality.clamp(1, 100);
    loop {
        let (w, h) = scaled(dims, long_side);
        let mut img = if (w, h) == pixels.dimensions() {
            pixels.clone()
        } else {
            resize(&pixels, w, h)?
        };
        let orientation_applied = orientation != Orientation::NoTransforms;
        if orientation_applied {
            let mut dynamic = DynamicImage::ImageRgb8(img);
            dynamic.apply_orientation(orientation);
            img = dynamic.into_rgb8();
        }
        let data = encode_jpeg(&img, quality)?;
        if data.len() <= opts.max_upload_bytes {
            return Ok(Prepared {
                data: data.into(),
                width: img.width(),
                height: img.height(),
                format: ImageFormat::Jpeg,
                resized: long_side < long,
                orientation_applied,
                source,
            });
        }
        // Too large: shrink towards the byte budget, keeping at least MIN_LONG_SIDE while the
        // quality can still drop; below that, shrink again.
        let ratio = (opts.max_upload_bytes as f64 / data.len() as f64).sqrt() * 0.95;
        let next = ((long_side as f64) * ratio) as u32;
        if next >= MIN_LONG_SIDE {
            long_side = next;
        } else if long_side > MIN_LONG_SIDE {
            long_side = MIN_LONG_SIDE;
        } else if quality > 50 {
            quality -= 15;
        } else if next >= 16 {
            long_side = next;
        } else {
            return Err(ErrorKind::FileTooLarge(format!(
                "the image cannot be made smaller than {} bytes",
                opts.max_upload_bytes
            ))
            .into());
        }
    }
}

/// Width and height scaled so that the longer side is `long_side`.
fn scaled((w, h): (u32, u32), long_side: u32) -> (u32, u32) {
    let long = w.max(h) as f64;
    let s = long_side as f64 / long;
    (
        ((w as f64 * s).round() as u32).max(1),
        ((h as f64 * s).round() as u32).max(1),
    )
}

/// Decodes to RGB. A JPEG at least twice the target size is decoded with DCT scaling
/// (1/2, 1/4 or 1/8), as libjpeg's shrink-on-load does, which skips most of the work.
fn decode_rgb(
    bytes: &[u8],
    format: ImageFormat,
    dims: (u32, u32),
    target: u32,
    opts: &PrepareOptions,
) -> Result<RgbImage> {
    if format == ImageFormat::Jpeg && dims.0.max(dims.1) >= 2 * target {
        let (tw, th) = scaled(dims, target);
        let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        let err = |e: jpeg_decoder::Error| invalid(format!("the JPEG image cannot be decoded: {e}"));
        let (w, h) = d.scale(tw.min(65_535) as u16, th.min(65_535) as u16).map_err(err)?;
        let pixels = d.decode().map_err(err)?;
        let info = d.info().ok_or_else(|| invalid("the JPEG image has no frame".into()))?;
        let rgb = match info.pixel_format {
            jpeg_decoder::PixelFormat::RGB24 => pixels,
            jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|l| [*l, *l, *l]).collect(),
            jpeg_decoder::PixelFormat::L16 => pixels.chunks_exact(2).flat_map(|c| [c[0], c[0], c[0]]).collect(),
            jpeg_decoder::PixelFormat::CMYK32 => pixels
                .chunks_exact(4)
                .flat_map(|c| {
                    let k = 255 - c[3] as u16;
                    [c[0], c[1], c[2]].map(|v| ((255 - v as u16) * k / 255) as u8)
                })
                .collect(),
        };
        return RgbImage::from_raw(u32::from(w), u32::from(h), rgb)
            .ok_or_else(|| invalid("the JPEG image decoded to an unexpected size".into()));
    }
    let mut r = reader(bytes)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(8));
    r.limits(limits);
    let img = r
        .decode()
        .map_err(|e| invalid(format!("the {} image cannot be decoded: {e}", format.name())))?;
    Ok(flatten(img))
}

/// RGB with any transparency composited onto white (JPEG has no alpha).
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = p.0[3] as u16;
        o.0 = [0, 1, 2].map(|i| ((p.0[i] as u16 * a + 255 * (255 - a)) / 255) as u8);
    }
    out
}

/// Lanczos3 downscaling with SIMD (fast_image_resize).
fn resize(src: &RgbImage, w: u32, h: u32) -> Result<RgbImage> {
    let err = |e: String| crate::Error::from(ErrorKind::Internal(format!("resize failed: {e}")));
    let view = fir::images::ImageRef::new(src.width(), src.height(), src.as_raw(), fir::PixelType::U8x3)
        .map_err(|e| err(e.to_string()))?;
    let mut dst = fir::images::Image::new(w, h, fir::PixelType::U8x3);
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    fir::Resizer::new()
        .resize(&view, &mut dst, &options)
        .map_err(|e| err(e.to_string()))?;
    RgbImage::from_raw(w, h, dst.into_vec()).ok_or_else(|| err("bad buffer size".into()))
}

fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity((img.width() * img.height() / 4) as usize);
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    let (w, h) = (u16::try_from(img.width()), u16::try_from(img.height()));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(invalid("the image is too large to encode as JPEG".into()));
    };
    encoder
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| crate::Error::from(ErrorKind::Internal(format!("JPEG encoding failed: {e}"))))?;
    Ok(out)
}
