//! Real image analysis for the local server: decode, find faces with their landmarks (CenterFace),
//! measure exposure and sharpness, and describe a face for comparison (dlib's ResNet
//! descriptor on a chip aligned with the 5 landmarks). The networks run in `perse-engine`;
//! their weights are files that the `perse-node-local` package ships (`weights/`).

pub mod descriptor;
pub mod detect;
pub mod metrics;

use image::{DynamicImage, GrayImage, RgbImage};
use perse_core::models::Metrics;

pub use descriptor::Descriptor;
pub use detect::{Engine, FaceBox};

/// The decoder refuses images with more pixels than this (a decompression-bomb guard).
pub const MAX_PIXELS: u64 = 40_000_000;

/// One analysis decodes at most this many pixels: a larger upload is decoded at a reduced
/// scale (a 3264x2448 photo stays whole, a 4000x3000 one is halved on each side, a 40 MP one
/// divided by 3). More than detection needs (it works at 800 to 2048 px on the longer side,
/// within about 1 MP), and 24 MB of RGB at most.
pub const ANALYSIS_MAX_PIXELS: u64 = 8_000_000;

/// The memory of every analysis in progress on one server, together (its decoded pixels
/// and the detector's working memory, see [`memory_estimate`]): an analysis waits for its
/// share, so concurrent uploads cannot multiply the peak by the number of cores. Two
/// analyses of an ordinary upload (up to 800x800 for the detector) run side by side; an
/// analysis of a huge one runs alone.
pub const MEMORY_BUDGET_BYTES: u64 = 288 * 1024 * 1024;

/// The bytes an analysis of a `w` x `h` upload may hold at its peak: the decoded RGB and grey
/// copies (at the shrunk size) and the detector's working memory.
pub fn memory_estimate(w: u32, h: u32) -> u64 {
    let f = shrink_factor(w, h);
    let (dw, dh) = (w.div_ceil(f), h.div_ceil(f));
    u64::from(dw) * u64::from(dh) * 4 + detect::network_pixels(dw, dh) * detect::DETECT_BYTES_PER_NETWORK_PIXEL
}

/// One analysed image.
pub struct Analysis {
    /// The pixels analysed: the upload's, or fewer when it was shrunk on load.
    pub rgb: RgbImage,
    /// Upload pixels per analysed pixel, across and down: (1, 1) unless shrunk on load.
    /// Boxes and landmarks are in analysed pixels; multiply by this for the upload's.
    pub scale: (f32, f32),
    pub faces: Vec<AnalysedFace>,
    pub image_metrics: Metrics,
}

/// One face: where it is, its 5 points, and how good its crop is.
#[derive(Clone, Debug)]
pub struct AnalysedFace {
    pub bbox: FaceBox,
    /// Image-left eye, image-right eye, nose, image-left and image-right mouth corner.
    pub landmarks: [[f32; 2]; 5],
    pub metrics: Metrics,
}

/// Decodes a JPEG or PNG whole, with the pixel limit checked from the header first (the
/// evaluation's photos; uploads go through [`dimensions`] and [`decode_shrunk`]).
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    dimensions(bytes)?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the image: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    reader.decode().map_err(|e| format!("cannot decode the image: {e}"))
}

/// The stored width and height of a JPEG or PNG upload, from its header; refuses a
/// decompression bomb (over [`MAX_PIXELS`]) before any pixel buffer exists.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), String> {
    let (w, h) = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read the image: {e}"))?
        .into_dimensions()
        .map_err(|e| format!("cannot decode the image: {e}"))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!("the image is {w}x{h}, over the {MAX_PIXELS}-pixel limit"));
    }
    Ok((w, h))
}

/// By how much a `w` x `h` upload is shrunk on each side when it is decoded for analysis:
/// the smallest factor that brings it within [`ANALYSIS_MAX_PIXELS`].
pub fn shrink_factor(w: u32, h: u32) -> u32 {
    let pixels = |f: u64| u64::from(w).div_ceil(f) * u64::from(h).div_ceil(f);
    (1..=64u64).find(|f| pixels(*f) <= ANALYSIS_MAX_PIXELS).unwrap_or(64) as u32
}

/// Decodes a JPEG or PNG upload shrunk on load by `factor` (see `perse_core::decode_shrunk`):
/// the pixels, and the upload pixels per decoded pixel. At factor 1 it is [`decode`]'s whole
/// image, decoded as the evaluation's photos are.
pub fn decode_shrunk(bytes: &[u8], factor: u32) -> Result<(RgbImage, (f32, f32)), String> {
    if factor <= 1 {
        return Ok((decode(bytes)?.into_rgb8(), (1.0, 1.0)));
    }
    let format = perse_core::sniff(bytes).ok_or("the image is not a JPEG or PNG")?;
    let mut stored = (0, 0);
    let rgb = perse_core::decode_shrunk(bytes, format, |w, h| {
        stored = (w, h);
        Ok(factor)
    })
    .map_err(|e| e.to_string())?;
    let (w, h) = rgb.dimensions();
    Ok((
        rgb,
        (stored.0 as f32 / w.max(1) as f32, stored.1 as f32 / h.max(1) as f32),
    ))
}

/// Detects faces and measures the image and each face crop.
pub fn analyse(engine: &Engine, img: &DynamicImage) -> Result<Analysis, String> {
    analyse_rgb(engine, img.to_rgb8(), (1.0, 1.0))
}

/// As [`analyse`], for pixels decoded at `scale` (see [`Analysis::scale`]).
pub fn analyse_rgb(engine: &Engine, rgb: RgbImage, scale: (f32, f32)) -> Result<Analysis, String> {
    let gray: GrayImage = image::imageops::grayscale(&rgb);
    let faces = engine
        .detect(&rgb)?
        .into_iter()
        .map(|(bbox, landmarks)| {
            let crop = image::imageops::crop_imm(&gray, bbox.x, bbox.y, bbox.width, bbox.height).to_image();
            AnalysedFace {
                bbox,
                landmarks,
                metrics: metrics::measure(&crop),
            }
        })
        .collect();
    let image_metrics = metrics::measure(&gray);
    Ok(Analysis {
        rgb,
        scale,
        faces,
        image_metrics,
    })
}
