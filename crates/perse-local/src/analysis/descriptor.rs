//! A classical face descriptor: Local Binary Pattern histograms (LBPH, Ahonen et al. 2006).
//! The face crop is resized to 80x80, histogram-equalised, turned into uniform LBP(8,1)
//! codes, and described by one 59-bin histogram per cell of a 5x5 grid. Similarity is the
//! mean histogram intersection over the cells, in 0..1 (1 = identical texture layout).

use image::GrayImage;

use super::detect::{equalize, FaceBox};

const SIDE: u32 = 80;
const GRID: u32 = 5;
const BINS: usize = 59;

/// The stored biometric template: no pixels, only normalised histograms.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor(pub Vec<f32>);

/// Maps each 8-bit LBP code to its uniform-pattern bin (58 uniform codes + 1 for the rest).
fn uniform_table() -> [u8; 256] {
    let mut table = [58u8; 256];
    let mut next = 0u8;
    for code in 0..256u32 {
        let rotated = (code >> 1) | ((code & 1) << 7);
        if (code ^ rotated).count_ones() <= 2 {
            table[code as usize] = next;
            next += 1;
        }
    }
    table
}

/// Describes the face in `bbox` of `gray`.
pub fn describe(gray: &GrayImage, bbox: &FaceBox) -> Descriptor {
    let crop = image::imageops::crop_imm(gray, bbox.x, bbox.y, bbox.width.max(1), bbox.height.max(1)).to_image();
    let face = equalize(&image::imageops::resize(
        &crop,
        SIDE,
        SIDE,
        image::imageops::FilterType::Triangle,
    ));
    let table = uniform_table();
    let cell = SIDE / GRID;
    let mut hist = vec![0f32; (GRID * GRID) as usize * BINS];
    let at = |x: u32, y: u32| face.get_pixel(x, y).0[0];
    for y in 1..SIDE - 1 {
        for x in 1..SIDE - 1 {
            let c = at(x, y);
            let neighbours = [
                at(x - 1, y - 1),
                at(x, y - 1),
                at(x + 1, y - 1),
                at(x + 1, y),
                at(x + 1, y + 1),
                at(x, y + 1),
                at(x - 1, y + 1),
                at(x - 1, y),
            ];
            let code = neighbours
                .iter()
                .enumerate()
                .fold(0u8, |acc, (i, n)| acc | (u8::from(*n >= c) << i));
            let cx = (x / cell).min(GRID - 1);
            let cy = (y / cell).min(GRID - 1);
            hist[((cy * GRID + cx) as usize) * BINS + table[code as usize] as usize] += 1.0;
        }
    }
    for cell_hist in hist.chunks_mut(BINS) {
        let total: f32 = cell_hist.iter().sum();
        if total > 0.0 {
            cell_hist.iter_mut().for_each(|v| *v /= total);
        }
    }
    Descriptor(hist)
}

/// Mean histogram intersection over the grid cells, 0..1.
pub fn similarity(a: &Descriptor, b: &Descriptor) -> f64 {
    if a.0.len() != b.0.len() || a.0.is_empty() {
        return 0.0;
    }
    let cells = a.0.len() / BINS;
    let total: f64 = a.0.iter().zip(&b.0).map(|(x, y)| x.min(*y) as f64).sum();
    ((total / cells as f64) * 1000.0).round() / 1000.0
}
