//! Real image analysis for the local server: decode, find faces, measure exposure and
//! sharpness, and describe a face for comparison. Pure functions over pixels; no state.

pub mod descriptor;
pub mod detect;
pub mod metrics;

use image::{DynamicImage, GrayImage};
use perse_core::models::Metrics;

pub use descriptor::Descriptor;
pub use detect::{FaceBox, FaceDetector};

/// The decoder refuses images with more pixels than this (a decompression-bomb guard).
pub const MAX_PIXELS: u64 = 40_000_000;

/// One analysed image.
pub struct Analysis {
    pub gray: GrayImage,
    pub faces: Vec<AnalysedFace>,
    pub image_metrics: Metrics,
}

/// One face: where it is and how good its crop is.
pub struct AnalysedFace {
    pub bbox: FaceBox,
    pub metrics: Metrics,
}

/// Decodes a JPEG or PNG with a pixel limit checked before any pixel buffer is allocated.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, String> {
    let open = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| format!("cannot read the image: {e}"))
    };
    // The header alone gives the dimensions: refuse a bomb before allocating its pixels.
    let (w, h) = open()?
        .into_dimensions()
        .map_err(|e| format!("cannot decode the image: {e}"))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!("the image is {w}x{h}, over the {MAX_PIXELS}-pixel limit"));
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    reader.decode().map_err(|e| format!("cannot decode the image: {e}"))
}

/// Detects faces and measures the image and each face crop.
pub fn analyse(detector: &FaceDetector, img: &DynamicImage) -> Analysis {
    let gray = img.to_luma8();
    let faces = detector
        .detect(&gray)
        .into_iter()
        .map(|bbox| {
            let crop = image::imageops::crop_imm(&gray, bbox.x, bbox.y, bbox.width, bbox.height).to_image();
            AnalysedFace {
                bbox,
                metrics: metrics::measure(&crop),
            }
        })
        .collect();
    let image_metrics = metrics::measure(&gray);
    Analysis {
        gray,
        faces,
        image_metrics,
    }
}
