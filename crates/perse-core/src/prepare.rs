//! Image preparation before upload. `Validate` checks that the bytes are a complete JPEG or
//! PNG within the limits and sends them unchanged; `Fit` decodes any common photo (JPEG, PNG,
//! WebP, GIF, BMP, TIFF), applies its EXIF orientation, and re-encodes it as a JPEG that fits
//! the upload limit, as large as the limits allow. Both refuse decompression bombs from the
//! header alone, before any pixel buffer exists. CPU-bound: callers run it on a worker thread.

use std::io::Cursor;

use crate::jpeg;
use bytes::Bytes;
use fast_image_resize as fir;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::error::{ErrorKind, Result};
use crate::image::{describe, validate_upload, ImageFormat};

/// What to do with an image before upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PrepareMode {
    /// Check type, completeness, pixel count and size; send the bytes unchanged.
    #[default]
    Validate,
    /// Convert, orient and shrink into a JPEG under the upload limit when needed.
    Fit,
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
            mode: PrepareMode::Validate,
            max_upload_bytes: crate::config::DEFAULT_MAX_UPLOAD_BYTES,
            max_pixels: 40_000_000,
            max_dimension: 1600,
            quality: 85,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// Default of [`PrepareOptions::max_input_bytes`]: a 48 MP phone JPEG or a large PNG fits.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 50_000_000;

impl PrepareOptions {
    /// The most bytes an input may have: the upload limit when it is sent unchanged, the
    /// input limit when it may be decoded and re-encoded.
    pub fn input_budget(&self) -> usize {
        match self.mode {
            PrepareMode::Validate => self.max_upload_bytes,
            PrepareMode::Fit => self.max_input_bytes.max(self.max_upload_bytes),
        }
    }
}

/// Memory that image decoding may use at once in this process, across all clients and calls.
/// A call whose estimate is larger than the whole budget runs alone.
pub const DECODE_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

/// Bounds the decode work in flight: a slot per core (more would only queue on the blocking
/// pool, each holding its pixels) and the memory budget, in KiB permits. Process-wide on
/// purpose: memory is a property of the process, not of one client or one JS realm.
struct DecodeGate {
    slots: tokio::sync::Semaphore,
    memory: tokio::sync::Semaphore,
}

fn gate() -> &'static DecodeGate {
    static GATE: std::sync::OnceLock<DecodeGate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| DecodeGate {
        slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        memory: tokio::sync::Semaphore::new((DECODE_BUDGET_BYTES / 1024) as usize),
    })
}

/// Loads an image and prepares it for upload. Header checks run inline; decoding waits for a
/// decode slot and its share of the memory budget, then runs on tokio's blocking pool.
pub async fn prepare_source(src: crate::image::ImageSource, opts: PrepareOptions) -> Result<Prepared> {
    let bytes = crate::image::load(src, &opts).await?;
    let job = match plan(bytes, &opts)? {
        Plan::Ready(p) => return Ok(p),
        Plan::Decode(job) => job,
    };
    let closed = |_| crate::Error::from(ErrorKind::Internal("the decode gate is closed".into()));
    let kib = (job.memory_estimate().min(DECODE_BUDGET_BYTES) / 1024).max(1) as u32;
    let _memory = gate().memory.acquire_many(kib).await.map_err(closed)?;
    let _slot = gate().slots.acquire().await.map_err(closed)?;
    tokio::task::spawn_blocking(move || job.run())
        .await
        .map_err(|e| crate::Error::from(ErrorKind::Internal(format!("image preparation failed: {e}"))))?
}

/// What [`plan`] decided: the bytes go as they are, or they must be decoded.
pub enum Plan {
    Ready(Prepared),
    Decode(DecodeJob),
}

/// A decode, orient, resize and encode still to run (CPU-bound: run it off the JS thread).
pub struct DecodeJob {
    bytes: Bytes,
    format: ImageFormat,
    dims: (u32, u32),
    orientation: Orientation,
    opts: PrepareOptions,
}

impl DecodeJob {
    /// Bytes the job may hold at its peak: the decoded pixels (after JPEG DCT scaling), their
    /// conversion to RGB, and the resized copies. An estimate on the safe side.
    pub fn memory_estimate(&self) -> u64 {
        let (w, h) = (u64::from(self.dims.0), u64::from(self.dims.1));
        let target = u64::from(
            self.dims
                .0
                .max(self.dims.1)
                .min(self.opts.max_dimension.clamp(16, 16_384)),
        );
        let long = w.max(h).max(1);
        let decoded = if self.format == ImageFormat::Jpeg {
            let scale = dct_scale(long, target);
            w.div_ceil(scale) * h.div_ceil(scale) * 6
        } else {
            w * h * 11 // up to 16-bit RGBA (8 bytes) plus the RGB copy
        };
        let out = (w * target / long) * (h * target / long) * 9;
        decoded + out
    }

    pub fn run(self) -> Result<Prepared> {
        fit(&self.bytes, self.format, self.dims, self.orientation, &self.opts)
    }
}

/// The JPEG DCT scaling denominator (1, 2, 4 or 8) used for a long side of `long` pixels
/// decoded for `target`: the largest that still leaves at least `target`.
fn dct_scale(long: u64, target: u64) -> u64 {
    if long < 2 * target {
        return 1;
    }
    [8, 4, 2].into_iter().find(|s| long / s >= target).unwrap_or(1)
}

/// Below this long side `Fit` lowers the JPEG quality before it shrinks further.
pub const MIN_LONG_SIDE: u32 = 640;

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
}

fn invalid(msg: String) -> crate::Error {
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
    if format == ImageFormat::Heif {
        return Err(invalid(
            "the image is HEIF/HEIC, which cannot be decoded here: convert it to JPEG first".into(),
        ));
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
                }))
            }
            Err(e) if opts.mode == PrepareMode::Validate || e.code() != "file_too_large" => return Err(e),
            Err(_) => {} // Fit: too large, so shrink it below.
        }
    }
    Ok(Plan::Decode(DecodeJob {
        bytes,
        format,
        dims: (width, height),
        orientation,
        opts: *opts,
    }))
}

fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32)> {
    reader(bytes)?
        .into_dimensions()
        .map_err(|e| invalid(format!("the {} image cannot be read: {e}", format.name())))
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>> {
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

fn fit(
    bytes: &[u8],
    format: ImageFormat,
    dims: (u32, u32),
    orientation: Orientation,
    opts: &PrepareOptions,
) -> Result<Prepared> {
    let long = dims.0.max(dims.1);
    let target = long.min(opts.max_dimension.clamp(16, 16_384));
    let source = decode_rgb(bytes, format, dims, target, opts)?;
    let mut long_side = target;
    let mut quality = opts.quality.clamp(1, 100);
    loop {
        let (w, h) = scaled(dims, long_side);
        let mut img = if (w, h) == source.dimensions() {
            source.clone()
        } else {
            resize(&source, w, h)?
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Bytes {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../__test__/fixtures")
            .join(name);
        std::fs::read(p).unwrap().into()
    }

    fn fit_opts() -> PrepareOptions {
        PrepareOptions {
            mode: PrepareMode::Fit,
            ..PrepareOptions::default()
        }
    }

    #[test]
    fn validate_passes_small_jpeg_unchanged_and_reads_dimensions() {
        let b = fixture("astronaut.jpg");
        let p = prepare(b.clone(), &PrepareOptions::default()).unwrap();
        assert_eq!(
            (p.width, p.height, p.format, p.resized),
            (512, 512, ImageFormat::Jpeg, false)
        );
        assert_eq!(p.data, b);
        let fit = prepare(b.clone(), &fit_opts()).unwrap();
        assert_eq!(fit.data, b, "an uploadable upright image is never re-encoded");
    }

    #[test]
    fn fit_shrinks_large_images_under_the_limit() {
        let b = fixture("astronaut-3000-q97.jpg");
        assert_eq!(
            prepare(b.clone(), &PrepareOptions::default()).unwrap_err().code(),
            "file_too_large"
        );
        let p = prepare(b, &fit_opts()).unwrap();
        assert!(p.data.len() <= 1_000_000 && p.resized);
        assert_eq!((p.width, p.height), (1600, 1600));
        let tight = PrepareOptions {
            max_upload_bytes: 60_000,
            ..fit_opts()
        };
        let p = prepare(fixture("astronaut-3000-q97.jpg"), &tight).unwrap();
        assert!(p.data.len() <= 60_000, "{}", p.data.len());
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in data {
            crc ^= *b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A valid PNG header declaring 100000 x 100000 pixels, with empty image data.
    fn png_bomb() -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        for (len, chunk) in [(13u32, ihdr), (0, b"IDAT".to_vec()), (0, b"IEND".to_vec())] {
            png.extend_from_slice(&len.to_be_bytes());
            png.extend_from_slice(&chunk);
            png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        png
    }

    #[test]
    fn decode_estimates_follow_dct_scaling() {
        assert_eq!(dct_scale(4000, 1600), 2);
        assert_eq!(dct_scale(8000, 1600), 4);
        assert_eq!(dct_scale(3000, 1600), 1);
        let Plan::Decode(job) = plan(fixture("astronaut-3000-q97.jpg"), &fit_opts()).unwrap() else {
            panic!("a 1.6 MB JPEG needs shrinking")
        };
        let est = job.memory_estimate();
        assert!((3000 * 3000 * 3..3000 * 3000 * 12).contains(&est), "{est}");
    }

    #[test]
    fn the_decode_gate_admits_one_budget_sized_job_at_a_time() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let kib = (DECODE_BUDGET_BYTES / 1024) as u32;
        rt.block_on(async {
            let first = gate().memory.acquire_many(kib).await.unwrap();
            let second =
                tokio::time::timeout(std::time::Duration::from_millis(50), gate().memory.acquire_many(1)).await;
            assert!(second.is_err(), "the budget is exhausted while the first job runs");
            drop(first);
            assert!(gate().memory.acquire_many(kib).await.is_ok());
        });
    }

    #[test]
    fn bombs_are_refused_from_the_header() {
        for mode in [PrepareMode::Validate, PrepareMode::Fit] {
            let e = prepare(
                png_bomb().into(),
                &PrepareOptions {
                    mode,
                    ..PrepareOptions::default()
                },
            )
            .unwrap_err();
            assert_eq!(e.code(), "invalid_file_type", "{e}");
            assert!(e.to_string().contains("pixel limit"), "{e}");
        }
    }

    #[test]
    fn exif_orientations_come_out_upright() {
        let upright = image::load_from_memory(&fixture("hopper.jpg")).unwrap().to_rgb8();
        for n in 2..=8 {
            let p = prepare(fixture(&format!("hopper-exif-orientation-{n}.jpg")), &fit_opts()).unwrap();
            assert!(p.orientation_applied, "{n}");
            let out = image::load_from_memory(&p.data).unwrap().to_rgb8();
            assert_eq!(out.dimensions(), upright.dimensions(), "{n}");
            let diff: f64 = out
                .as_raw()
                .iter()
                .zip(upright.as_raw())
                .map(|(a, b)| (*a as f64 - *b as f64).abs())
                .sum();
            let mad = diff / out.as_raw().len() as f64;
            assert!(mad < 6.0, "orientation {n}: mean absolute difference {mad:.2}");
        }
    }

    #[test]
    fn other_formats_become_jpeg_and_bad_files_fail() {
        for name in [
            "hopper.webp",
            "hopper.gif",
            "hopper.bmp",
            "hopper.tif",
            "astronaut-2048.png",
        ] {
            let p = prepare(fixture(name), &fit_opts()).unwrap();
            assert_eq!(p.format, ImageFormat::Jpeg, "{name}");
            assert!(p.data.len() <= 1_000_000 && p.data.starts_with(&[0xFF, 0xD8]), "{name}");
        }
        for name in [
            "empty.jpg",
            "not-an-image.jpg",
            "truncated.jpg",
            "broken.png",
            "broken_data_stream.png",
            "hopper_bad_exif.jpg",
            "invalid-exif.jpg",
        ] {
            for mode in [PrepareMode::Validate, PrepareMode::Fit] {
                let e = prepare(
                    fixture(name),
                    &PrepareOptions {
                        mode,
                        ..PrepareOptions::default()
                    },
                );
                assert!(e.is_err(), "{name} in {mode:?} should fail");
            }
        }
    }
}
