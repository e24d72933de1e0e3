//! The AVX2 kernels of the int8 conv: the 6x16 product, its epilogue, and the input's
//! range and rounding, each doing the portable code's operations (see `qconv`).

use super::input::ROUND;
use super::{Epi, G, MR, NR};
use std::arch::x86_64::*;

/// [`Epi::store`] of a whole tile row (16 values), in the same operations.
///
/// # Safety
/// AVX2; `acc` and `res` (if any) hold 16 values, `dst` is writable for 16.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn store(e: Epi, acc: &[i32], res: Option<&[f32]>, dst: *mut f32) {
    let (corr, s, bias, zero) = (
        _mm256_set1_epi32(e.corr),
        _mm256_set1_ps(e.s),
        _mm256_set1_ps(e.bias),
        _mm256_setzero_ps(),
    );
    for h in [0, 8] {
        let a = _mm256_sub_epi32(_mm256_loadu_si256(acc.as_ptr().add(h).cast()), corr);
        let mut v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a), s), bias);
        if e.relu {
            v = _mm256_max_ps(v, zero);
        }
        if let Some(r) = res {
            v = _mm256_add_ps(v, _mm256_loadu_ps(r.as_ptr().add(h)));
            if e.relu2 {
                v = _mm256_max_ps(v, zero);
            }
        }
        _mm256_storeu_ps(dst.add(h), v);
    }
}

/// `input::range` over whole groups of 8 values into 8 lanes each (`vminps(x, lo)` is
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

/// `input::quantize_row` 8 pixels at a time, with the float operations of
/// `input::q8` in the same order (`vmaxps(v, 0)` gives 0 for NaN, as the clamp and
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

/// The 6x16 tile: per group, two loads of B (8 pixels x 4 bytes each) and, per row, a
/// broadcast of its 4 weights; `vpmaddubsw` multiplies u8 by i8 and adds pairs in i16
/// (never saturating, see `WMAX`), `vpmaddwd` by ones adds those pairs into i32.
///
/// # Safety
/// AVX2; for every group `[ag, bg]`, `a + ag` is readable for `MR * 4` bytes and `b + bg`
/// for 64.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn tile(a: *const i8, b: *const u8, off: &[[usize; 2]], rows: usize, acc: &mut [[i32; NR]; MR]) {
    // A ragged last panel (32 rows are 5 panels and 2 rows) computes only its rows.
    match rows {
        1 | 2 => tile_rows::<2>(a, b, off, acc),
        3 | 4 => tile_rows::<4>(a, b, off, acc),
        _ => tile_rows::<MR>(a, b, off, acc),
    }
}

/// [`tile`] for the first `R` rows; the others are left as they are.
#[target_feature(enable = "avx2")]
unsafe fn tile_rows<const R: usize>(a: *const i8, b: *const u8, off: &[[usize; 2]], acc: &mut [[i32; NR]; MR]) {
    let ones = _mm256_set1_epi16(1);
    let mut c = [[_mm256_setzero_si256(); 2]; R];
    for &[ag, bg] in off {
        let bp = b.add(bg);
        let b0 = _mm256_loadu_si256(bp.cast());
        let b1 = _mm256_loadu_si256(bp.add(32).cast());
        let ap = a.add(ag).cast::<i32>();
        for (r, c) in c.iter_mut().enumerate() {
            let av = _mm256_set1_epi32(ap.add(r).read_unaligned());
            c[0] = _mm256_add_epi32(c[0], _mm256_madd_epi16(_mm256_maddubs_epi16(b0, av), ones));
            c[1] = _mm256_add_epi32(c[1], _mm256_madd_epi16(_mm256_maddubs_epi16(b1, av), ones));
        }
    }
    for (acc, c) in acc.iter_mut().zip(&c) {
        _mm256_storeu_si256(acc.as_mut_ptr().cast(), c[0]);
        _mm256_storeu_si256(acc.as_mut_ptr().add(8).cast(), c[1]);
    }
}
