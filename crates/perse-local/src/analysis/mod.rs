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

/// One analysed image.
pub struct Analysis {
    pub rgb: RgbImage,
    pub faces: Vec<AnalysedFace>,
    pub image_metrics: Metrics,
}

/// One face: where it is, its 5 points, and how good its crop is.
pub struct AnalysedFace {
    pub bbox: FaceBox,
    /// Image-left eye, image-right eye, nose, image-left and image-right mouth corner.
    pub landmarks: [[f32; 2]; 5],
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
pub fn analyse(engine: &Engine, img: &DynamicImage) -> Result<Analysis, String> {
    let rgb = img.to_rgb8();
    let gray: GrayImage = img.to_luma8();
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
        faces,
        image_metrics,
    })
}
