//! Quality metrics from pixels, each mapped to 0..1 as the contract defines them.
//!
//! Exposure is measured on the middle of the region only: the central 60 % of its width and
//! of its height (for a face box, the eyes, nose, cheeks and mouth). The rest of a face box
//! is hair, background and the shadow under the jaw: counting it refused ordinary well-lit
//! portraits with dark hair or a dark background as underexposed (`npm run eval:engine`,
//! "Enrollment quality gates").
//!
//! - `underexposure`: loss of shadow detail = the share of those pixels crushed to near black
//!   (luminance <= 24 of 255), stretched so that 40 % crushed reads as 1.0, combined with how
//!   far their mean luminance falls below 25 %.
//! - `overexposure`: the same for highlights (luminance >= 240, mean above 75 %).
//! - `sharpness`: variance of the Laplacian of the region resized to 128 px on its longer
//!   side (so the value does not depend on resolution), mapped as v / (v + 120).

use image::GrayImage;
use perse_core::models::Metrics;

const DARK: u8 = 24;
const BRIGHT: u8 = 240;
const SHARP_SIDE: u32 = 128;
const SHARP_HALF: f64 = 120.0;
/// Exposure looks at the middle `1 - 2 * EXPOSURE_MARGIN` of the region in each direction.
const EXPOSURE_MARGIN: f64 = 0.2;

pub fn measure(region: &GrayImage) -> Metrics {
    let (under, over) = exposure(region);
    Metrics {
        underexposure: under,
        overexposure: over,
        sharpness: sharpness(region),
        color: None,
        rotation: None,
    }
}

/// `(underexposure, overexposure)` from the luminance histogram of the region's middle.
pub fn exposure(region: &GrayImage) -> (f64, f64) {
    let (w, h) = region.dimensions();
    let (mx, my) = ((w as f64 * EXPOSURE_MARGIN) as u32, (h as f64 * EXPOSURE_MARGIN) as u32);
    let middle = image::imageops::crop_imm(region, mx, my, w - 2 * mx, h - 2 * my).to_image();
    let px = middle.as_raw();
    if px.is_empty() {
        return (1.0, 0.0);
    }
    let n = px.len() as f64;
    let dark = px.iter().filter(|p| **p <= DARK).count() as f64 / n;
    let bright = px.iter().filter(|p| **p >= BRIGHT).count() as f64 / n;
    let mean = px.iter().map(|p| *p as f64).sum::<f64>() / n / 255.0;
    let under = (dark / 0.4).max((0.25 - mean) / 0.25);
    let over = (bright / 0.4).max((mean - 0.75) / 0.25);
    (round3(under.clamp(0.0, 1.0)), round3(over.clamp(0.0, 1.0)))
}

/// Absence of blur, 0..1.
pub fn sharpness(region: &GrayImage) -> f64 {
    let (w, h) = region.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let scale = SHARP_SIDE as f64 / w.max(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(3),
        ((h as f64 * scale).round() as u32).max(3),
    );
    let img = image::imageops::resize(region, nw, nh, image::imageops::FilterType::Triangle);
    let at = |x: u32, y: u32| img.get_pixel(x, y).0[0] as f64;
    let (mut sum, mut sum2, mut n) = (0.0, 0.0, 0.0);
    for y in 1..nh - 1 {
        for x in 1..nw - 1 {
            let lap = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y);
            sum += lap;
            sum2 += lap * lap;
            n += 1.0;
        }
    }
    let var = (sum2 / n - (sum / n).powi(2)).max(0.0);
    round3(var / (var + SHARP_HALF))
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
