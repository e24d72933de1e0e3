//! `Fit`: decode (JPEGs with DCT scaling), apply the EXIF orientation, resize with Lanczos3
//! and encode a JPEG under the upload limit, shrinking until it fits.

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

/// Decodes to RGB. A JPEG or PNG at least twice the target size is shrunk on load
/// (`shrink.rs`: JPEG DCT scaling by 1/2, 1/4 or 1/8, as libjpeg's shrink-on-load does; PNG
/// block means), which skips most of the work and never holds the full-size pixels.
fn decode_rgb(
    bytes: &[u8],
    format: ImageFormat,
    dims: (u32, u32),
    target: u32,
    opts: &PrepareOptions,
) -> Result<RgbImage> {
    let long = dims.0.max(dims.1);
    if matches!(format, ImageFormat::Jpeg | ImageFormat::Png) && long >= 2 * target {
        let factor = match format {
            ImageFormat::Jpeg => super::shrink::dct_scale(u64::from(long), u64::from(target)) as u32,
            _ => long / target,
        };
        return super::shrink::decode_shrunk(bytes, format, |_, _| Ok(factor));
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
pub(super) fn flatten(img: DynamicImage) -> RgbImage {
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
