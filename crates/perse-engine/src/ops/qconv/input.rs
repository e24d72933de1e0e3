//! The conv's input as 8-bit values: its range, the rounding, and the channel-interleaved
//! stride-phase planes the product reads (see the module doc of `qconv`).

use super::G;
use crate::ops::simd::Isa;
use crate::tensor::Tensor;

/// The input quantised into channel-interleaved stride-phase planes (see the module doc).
pub(super) struct QInput {
    pub data: Vec<u8>,
    pub scale: f32,
    pub zp: i32,
}

/// 1.5 * 2^23: adding and subtracting it rounds an f32 under 2^22 to the nearest integer,
/// ties to even, in two plain float operations (vectorised on every target; `round_ties_even`
/// is a library call on x86_64's baseline).
pub(super) const ROUND: f32 = 12_582_912.0;

/// Quantises `x` (per tensor, see the module doc), with the kernel set `isa` (a
/// [`kernel_set`](super::kernel_set)), into `cgs * sy * sx` planes of `hq x wq`
/// pixels of 4 bytes, padded with the zero point, plus `slack` bytes.
pub(super) fn quantize(
    isa: Isa,
    x: &Tensor,
    [sy, sx]: [usize; 2],
    [pt, pl]: [usize; 2],
    [hq, wq]: [usize; 2],
    slack: usize,
) -> QInput {
    let (lo, hi) = range(isa, &x.data);
    let range = hi - lo;
    let scale = if range > 0.0 && range.is_finite() {
        range / 255.0
    } else {
        1.0
    };
    let inv = 1.0 / scale;
    let zp = ((-lo * inv + ROUND) - ROUND).clamp(0.0, 255.0);
    let plane = hq * wq;
    let cgs = x.c.div_ceil(G);
    let mut data = vec![zp as u8; cgs * sy * sx * plane * G + slack];
    // Input column `xx` goes to pixel `xmap[xx]` of its row of planes (no division per value).
    let xmap: Vec<usize> = (0..x.w).map(|xx| (xx + pl) % sx * plane + (xx + pl) / sx).collect();
    let mut pixels = vec![[0u8; G]; x.w];
    let n = x.h * x.w;
    for cg in 0..cgs {
        for y in 0..x.h {
            let row = |j: usize| (cg * G + j < x.c).then(|| &x.data[(cg * G + j) * n + y * x.w..][..x.w]);
            quantize_row(isa, [row(0), row(1), row(2), row(3)], inv, zp, &mut pixels);
            let (py, qy) = ((y + pt) % sy, (y + pt) / sy);
            let dst = &mut data[((cg * sy + py) * sx * plane + qy * wq) * G..];
            if sx == 1 {
                for (d, p) in dst[pl * G..][..x.w * G].chunks_exact_mut(G).zip(&pixels) {
                    d.copy_from_slice(p);
                }
            } else {
                for (&at, p) in xmap.iter().zip(&pixels) {
                    dst[at * G..at * G + G].copy_from_slice(p);
                }
            }
        }
    }
    QInput {
        data,
        scale,
        zp: zp as i32,
    }
}

/// The smallest and largest of the values and 0 (NaNs are passed over): the same values
/// whichever way it is computed (`isa` is a [`kernel_set`](super::kernel_set)).
pub(super) fn range(isa: Isa, v: &[f32]) -> (f32, f32) {
    let (mut lo, mut hi) = ([0.0f32; 8], [0.0f32; 8]);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `isa` comes from `kernel_set`, so this CPU has AVX2.
    let done = if isa == Isa::Avx2 {
        unsafe { avx2::range(v, &mut lo, &mut hi) }
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = isa; // only x86_64 has a kernel of its own here
        0
    };
    let less = |a: f32, b: f32| if a < b { a } else { b };
    let more = |a: f32, b: f32| if a > b { a } else { b };
    for &x in &v[done..] {
        (lo[0], hi[0]) = (less(x, lo[0]), more(x, hi[0]));
    }
    (lo.into_iter().fold(0.0, less), hi.into_iter().fold(0.0, more))
}

/// One value quantised: `round(v / s) + zp`, clamped to `0..=255` (NaN to 0). Every kernel
/// set computes exactly these float operations, so the bytes are the same.
#[inline(always)]
fn q8(v: f32, inv: f32, zp: f32) -> u8 {
    ((v * inv + zp + ROUND) - ROUND).clamp(0.0, 255.0) as u8
}

/// The 4 channels' values of one row (a missing channel is the zero point), 4 bytes per pixel.
/// `isa` is a [`kernel_set`](super::kernel_set) (one this CPU runs).
fn quantize_row(isa: Isa, rows: [Option<&[f32]>; G], inv: f32, zp: f32, out: &mut [[u8; G]]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `isa` comes from `kernel_set`, so this CPU has AVX2; the rows are `out.len()`
    // long, as `quantize` makes them.
    let done = if isa == Isa::Avx2 {
        unsafe { avx2::quantize_row(rows, inv, zp, out) }
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = isa; // only x86_64 has a kernel of its own here
        0
    };
    for (j, row) in rows.iter().enumerate() {
        match row {
            Some(r) => out[done..]
                .iter_mut()
                .zip(&r[done..])
                .for_each(|(p, &v)| p[j] = q8(v, inv, zp)),
            None => out[done..].iter_mut().for_each(|p| p[j] = zp as u8),
        }
    }
}

/// The input's AVX2 loops, in the portable code's float operations.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{G, ROUND};
    use std::arch::x86_64::*;

    /// [`super::range`] over whole groups of 8 values into 8 lanes each (`vminps(x, lo)` is
    /// `x < lo ? x : lo`, as the portable loop); returns how many values it took.
    ///
    /// # Safety
    /// AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn range(v: &[f32], lo: &mut [f32; 8], hi: &mut [f32; 8]) -> usize {
        let whole = v.len() / 8 * 8;
        let (mut l, mut h) = (_mm256_loadu_ps(lo.as_ptr()), _mm256_loadu_ps(hi.as_ptr()));
        for i in (0..whole).step_by(8) {
            let x = _mm256_loadu_ps(v.as_ptr().add(i));
            (l, h) = (_mm256_min_ps(x, l), _mm256_max_ps(x, h));
        }
        _mm256_storeu_ps(lo.as_mut_ptr(), l);
        _mm256_storeu_ps(hi.as_mut_ptr(), h);
        whole
    }

    /// [`super::quantize_row`] 8 pixels at a time, with the float operations of
    /// [`super::q8`] in the same order (`vmaxps(v, 0)` gives 0 for NaN, as the clamp and
    /// cast do); returns how many pixels it did (the rest is left to the portable loop).
    ///
    /// # Safety
    /// AVX2; every row is at least `out.len()` long.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn quantize_row(rows: [Option<&[f32]>; G], inv: f32, zp: f32, out: &mut [[u8; G]]) -> usize {
        let whole = out.len() / 8 * 8;
        let (inv, zpv, round) = (_mm256_set1_ps(inv), _mm256_set1_ps(zp), _mm256_set1_ps(ROUND));
        let (zero, top) = (_mm256_setzero_ps(), _mm256_set1_ps(255.0));
        let fill = _mm256_set1_epi32(zp as i32);
        for x in (0..whole).step_by(8) {
            let mut word = _mm256_setzero_si256();
            for (j, row) in rows.iter().enumerate() {
                let q = match row {
                    Some(r) => {
                        let v = _mm256_loadu_ps(r.as_ptr().add(x));
                        let v = _mm256_sub_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(v, inv), zpv), round), round);
                        _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, zero), top))
                    }
                    None => fill,
                };
                word = _mm256_or_si256(word, _mm256_sllv_epi32(q, _mm256_set1_epi32(8 * j as i32)));
            }
            _mm256_storeu_si256(out.as_mut_ptr().add(x).cast(), word);
        }
        whole
    }
}
