//! The AVX2 kernels of the int8 conv: the 6x16 product and its epilogue, the latter doing
//! the portable code's float operations (see `qconv`). The input's are in `input.rs`.

use super::{Epi, MR, NR};
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
