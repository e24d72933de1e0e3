//! The stored biometric template: dlib's 128-float ResNet descriptor of a face chip aligned
//! with its 5 landmarks, and the calibrated similarity between two of them.

use super::{AnalysedFace, Engine};
use image::RgbImage;

/// Compare and enrollment refuse a face narrower than this (pixels of the upload): below it
/// the descriptor stops telling people apart. In `npm run eval:engine` every accepted
/// impostor pair involved a face under 55 px (the Solvay photo's); 200 px works best.
pub const MIN_FACE_PX: u32 = 64;

/// No pixels: 128 floats (their Euclidean distance is the model's metric).
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor(pub Vec<f32>);

/// Describes `face` of `rgb`.
pub fn describe(engine: &Engine, rgb: &RgbImage, face: &AnalysedFace) -> Result<Descriptor, String> {
    compute(engine, &chip(rgb, face)?)
}

/// The aligned 150x150 chip of `face` (the first half of [`describe`]).
pub fn chip(rgb: &RgbImage, face: &AnalysedFace) -> Result<perse_engine::align::Chip, String> {
    let (w, h) = rgb.dimensions();
    perse_engine::align::extract_chip(rgb.as_raw(), w as usize, h as usize, &face.landmarks)
        .map(|c| c.rounded())
        .map_err(|e| format!("face alignment failed: {e}"))
}

/// The descriptor of a chip from [`chip`] (the second half of [`describe`]).
pub fn compute(engine: &Engine, chip: &perse_engine::align::Chip) -> Result<Descriptor, String> {
    let d = engine
        .descriptor
        .compute(chip)
        .map_err(|e| format!("face description failed: {e}"))?;
    Ok(Descriptor(d.to_vec()))
}

/// The similarity of two descriptors, 0..1, rounded to 3 places: 0.7 (the server's
/// threshold) at dlib's same-person distance 0.6 (see `perse_engine::similarity`).
pub fn similarity(a: &Descriptor, b: &Descriptor) -> f64 {
    let (Ok(a), Ok(b)) = (
        <&[f32; perse_engine::DESCRIPTOR_LEN]>::try_from(a.0.as_slice()),
        <&[f32; perse_engine::DESCRIPTOR_LEN]>::try_from(b.0.as_slice()),
    ) else {
        return 0.0;
    };
    let s = f64::from(perse_engine::similarity(perse_engine::distance(a, b)));
    (s * 1000.0).round() / 1000.0
}
