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
    let img = resize_triangle(region.as_raw(), w as usize, h as usize, nw as usize, nh as usize);
    let (nw, nh) = (nw as usize, nh as usize);
    // Integer sums: every Laplacian is an integer of at most 1020 in size, so these sums are
    // the f64 sums they replace exactly (all below 2^53), and the loop vectorises.
    let (mut sum, mut sum2) = (0i64, 0i64);
    for y in 1..nh - 1 {
        let (up, row, down) = (&img[(y - 1) * nw..], &img[y * nw..], &img[(y + 1) * nw..]);
        for x in 1..nw - 1 {
            let lap = i32::from(row[x - 1]) + i32::from(row[x + 1]) + i32::from(up[x]) + i32::from(down[x])
                - 4 * i32::from(row[x]);
            sum += i64::from(lap);
            sum2 += i64::from(lap * lap);
        }
    }
    let (sum, sum2, n) = (sum as f64, sum2 as f64, ((nw - 2) * (nh - 2)) as f64);
    let var = (sum2 / n - (sum / n).powi(2)).max(0.0);
    round3(var / (var + SHARP_HALF))
}

/// `image::imageops::resize(.., FilterType::Triangle)` of a grey `w` x `h` image to `nw` x `nh`,
/// with the same result to the bit: the same weights and the same f32 sums in the same order
/// (a vertical pass kept in f32, then a horizontal pass rounded to u8), so `sharpness` reads
/// the same values. The `image` crate runs it on four f32 channels of every pixel with a
/// bounds-checked read per tap and a software `roundf`; this is the one channel, in rows the
/// compiler vectorises. Measured, `sharpness` of a whole image (best of 5 x 200 calls): a 150 px
/// chip 0.387 → 0.087 ms, Solvay (1666x1136) 3.50 → 0.73 ms, a 970x2204 portrait 3.77 → 0.77 ms.
fn resize_triangle(src: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Vec<u8> {
    if (nw, nh) == (w, h) {
        return src.to_vec();
    }
    // Rows of the vertical pass: for each output row, the input rows it reads and their weights.
    let mut tmp = vec![0f32; w * nh];
    let mut ws = Vec::new();
    for (oy, out) in tmp.chunks_exact_mut(w).enumerate() {
        let left = triangle_weights(oy, h, nh, &mut ws);
        for (i, wt) in ws.iter().enumerate() {
            let row = &src[(left + i) * w..(left + i + 1) * w];
            for (t, p) in out.iter_mut().zip(row) {
                *t += f32::from(*p) * wt;
            }
        }
    }
    // The horizontal pass, row by row: each output pixel's taps summed in `image`'s order.
    let taps: Vec<(usize, Vec<f32>)> = (0..nw)
        .map(|ox| {
            let left = triangle_weights(ox, w, nw, &mut ws);
            (left, ws.clone())
        })
        .collect();
    let mut out = vec![0u8; nw * nh];
    for (row, out) in tmp.chunks_exact(w).zip(out.chunks_exact_mut(nw)) {
        for (o, (left, ws)) in out.iter_mut().zip(&taps) {
            let mut t = 0f32;
            for (p, wt) in row[*left..].iter().zip(ws) {
                t += p * wt;
            }
            *o = round_u8(t.clamp(0.0, 255.0));
        }
    }
    out
}

/// `v.round() as u8` for `v` in 0..=255 (half away from zero), without a call to the
/// software `roundf` (the target's baseline has no rounding instruction): `v - trunc(v)` is
/// exact here.
fn round_u8(v: f32) -> u8 {
    let i = v as u8;
    i + u8::from(v - f32::from(i) >= 0.5)
}

/// The triangle filter's taps for output pixel `o` of `n` resampled from `len` input pixels,
/// normalised, into `ws`; returns the first input pixel. `image`'s arithmetic, step by step.
fn triangle_weights(o: usize, len: usize, n: usize, ws: &mut Vec<f32>) -> usize {
    let ratio = len as f32 / n as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = 1.0 * sratio;
    let input = (o as f32 + 0.5) * ratio;
    let left = ((input - support).floor() as i64).clamp(0, len as i64 - 1);
    let right = ((input + support).ceil() as i64).clamp(left + 1, len as i64);
    let input = input - 0.5;
    ws.clear();
    let mut sum = 0.0;
    for i in left..right {
        let x: f32 = (i as f32 - input) / sratio;
        let wt = if x.abs() < 1.0 { 1.0 - x.abs() } else { 0.0 };
        ws.push(wt);
        sum += wt;
    }
    for wt in ws.iter_mut() {
        *wt /= sum;
    }
    left as usize
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grey test images: smooth gradients, noise, flat areas and hard edges.
    fn image(w: u32, h: u32, seed: u32) -> GrayImage {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        GrayImage::from_fn(w, h, |i, j| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = match (i / 7 + j / 5 + seed) % 4 {
                0 => (i * 255 / w.max(1)) as u8,
                1 => (x >> 24) as u8,
                2 => 255,
                _ => ((i + j) % 2 * 255) as u8,
            };
            image::Luma([v])
        })
    }

    /// The fast resize is `image`'s Triangle resize to the bit, downscaling and upscaling,
    /// on the shapes `sharpness` produces and on odd ones.
    #[test]
    fn resize_matches_image_bit_for_bit() {
        let shapes = [
            (150, 150, 128, 128),
            (1666, 1136, 128, 87),
            (80, 97, 106, 128),
            (3, 3, 128, 128),
            (37, 300, 16, 128),
            (128, 64, 128, 64),
            (129, 64, 128, 64),
            (500, 3, 128, 3),
            (9, 9, 3, 3),
        ];
        for (seed, (w, h, nw, nh)) in shapes.into_iter().enumerate() {
            let img = image(w, h, seed as u32);
            let want = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle);
            let got = resize_triangle(img.as_raw(), w as usize, h as usize, nw as usize, nh as usize);
            assert_eq!(want.as_raw(), &got, "{w}x{h} -> {nw}x{nh}");
        }
    }

    /// The rounding matches `f32::round` on 0..=255: every 1/4096 step, and each half-way
    /// point with its neighbouring floats.
    #[test]
    fn round_u8_is_round() {
        let mut vs: Vec<f32> = (0..=255 * 4096).map(|i| i as f32 / 4096.0).collect();
        for k in 0..255 {
            let half = k as f32 + 0.5;
            vs.extend([
                f32::from_bits(half.to_bits() - 1),
                half,
                f32::from_bits(half.to_bits() + 1),
            ]);
        }
        for v in vs {
            assert_eq!(round_u8(v), v.round() as u8, "{v}");
        }
    }

    /// `sharpness` reads the same values as the version on `image`'s resize did.
    #[test]
    fn sharpness_is_unchanged() {
        let reference = |region: &GrayImage| {
            let (w, h) = region.dimensions();
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
        };
        for (seed, (w, h)) in [(150, 150), (640, 480), (33, 71), (3, 5), (200, 13)]
            .into_iter()
            .enumerate()
        {
            let img = image(w, h, seed as u32 + 7);
            assert_eq!(sharpness(&img).to_bits(), reference(&img).to_bits(), "{w}x{h}");
        }
    }
}
