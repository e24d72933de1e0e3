//! Area downscaling of RGB8 images, bit-exact with Pillow's `Image.resize(size, Image.BOX)`.
//!
//! The NumPy reference (and its evaluation) downscales with Pillow's BOX filter before
//! detection, so matching it exactly keeps our detections comparable with the README's
//! numbers. Pillow resamples in two separable passes (horizontal first, into an 8-bit
//! temporary image), with 22-bit fixed-point weights; both are reproduced here.

/// Pillow's `PRECISION_BITS` for 8-bit images.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// For each output index: first source index and integer weights (`Resample.c`
/// `precompute_coeffs` with the box filter, then `normalize_coeffs_8bpc`).
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 0.5 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's `(int)` truncates toward zero, as `as i64` does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(xmin as i64) as usize;
            let w: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = (x as f64 - center + 0.5) * ss;
                    if t > -0.5 && t <= 0.5 {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let total: f64 = w.iter().sum();
            let k = w
                .iter()
                .map(|&v| {
                    let v = if total != 0.0 { v / total } else { v };
                    (0.5 + v * f64::from(1u32 << PRECISION_BITS)) as i32
                })
                .collect();
            (xmin, k)
        })
        .collect()
}

fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an RGB8 image (`w*h*3` bytes, row-major) to `nw x nh` with Pillow's BOX filter.
/// Callers guarantee `rgb.len() == w*h*3` and non-zero sizes.
pub fn resize_box(rgb: &[u8], w: usize, h: usize, nw: usize, nh: usize) -> Vec<u8> {
    if (w, h) == (nw, nh) {
        return rgb.to_vec();
    }
    let horiz = coefficients(w, nw);
    let vert = coefficients(h, nh);
    // Source rows the vertical pass will read (Pillow only filters those horizontally).
    let first = vert.first().map_or(0, |v| v.0);
    let last = vert.last().map_or(0, |v| v.0 + v.1.len());
    let half = 1i64 << (PRECISION_BITS - 1);
    let tmp_w = if nw != w { nw } else { w };
    let mut tmp = vec![0u8; tmp_w * (last - first) * 3];
    for (ty, y) in (first..last).enumerate() {
        let src = &rgb[y * w * 3..][..w * 3];
        let dst = &mut tmp[ty * tmp_w * 3..][..tmp_w * 3];
        if nw == w {
            dst.copy_from_slice(src);
            continue;
        }
        for (xx, (xmin, k)) in horiz.iter().enumerate() {
            let mut acc = [half; 3];
            for (i, &kv) in k.iter().enumerate() {
                let p = &src[(xmin + i) * 3..][..3];
                for c in 0..3 {
                    acc[c] += i64::from(p[c]) * i64::from(kv);
                }
            }
            for c in 0..3 {
                dst[xx * 3 + c] = clip8(acc[c]);
            }
        }
    }
    if nh == h {
        return tmp;
    }
    let mut out = vec![0u8; nw * nh * 3];
    for (yy, (ymin, k)) in vert.iter().enumerate() {
        let dst = &mut out[yy * nw * 3..][..nw * 3];
        for (x, d) in dst.iter_mut().enumerate() {
            let mut acc = half;
            for (i, &kv) in k.iter().enumerate() {
                acc += i64::from(tmp[(ymin - first + i) * nw * 3 + x]) * i64::from(kv);
            }
            *d = clip8(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::resize_box;

    #[test]
    fn integer_factor_is_the_block_mean() {
        // 4x2 -> 2x1: horizontal pass (10+20)/2 = 15, (30+41)/2 = 35.5 -> 36 (rounded half up into
        // the 8-bit temporary), then vertical (15+0)/2 = 7.5 -> 8 and (36+0)/2 = 18.
        let rgb: Vec<u8> = [10u8, 20, 30, 41, 0, 0, 0, 0].iter().flat_map(|&v| [v, v, v]).collect();
        let out = resize_box(&rgb, 4, 2, 2, 1);
        assert_eq!(out, vec![8, 8, 8, 18, 18, 18]);
    }
}
