//! The GEMM's A operand: a weight matrix packed once, when the graph is built, in panels of
//! [`MR`] rows interleaved by `k` (the order a kernel reads them), kept as f32 or, when
//! every value is an exact half-precision value, as f16 (see [`Store::F16`]).

/// Rows of A per packed panel, and of C per kernel call. Six rows keep the AVX2 kernel at
/// 15 of its 16 registers (with four rows x 24 columns, 16 of 16, LLVM spilled one
/// accumulator to the stack in the inner loop).
pub(crate) const MR: usize = 6;

/// A (`m x k`, row-major) packed in panels of [`MR`] rows: `data[(p*k + kk)*MR + r] =
/// A[p*MR + r][kk]`, rows past `m` zero.
#[derive(Debug, Clone)]
pub(crate) struct PackedA {
    pub m: usize,
    pub k: usize,
    data: Store,
}

/// How a [`PackedA`] keeps its values.
#[derive(Debug, Clone)]
enum Store {
    F32(Vec<f32>),
    /// Weights that are all exactly half-precision values (the descriptor's, whose file is
    /// f16), kept at half the size and widened panel by panel as a product needs them: the
    /// same values, so the same results, from half the memory traffic. The descriptor's
    /// 256-channel layers read 2.4 MB of weights each per chip, and its 22 MB of f32
    /// weights did not stay in this machine's L3 next to CenterFace's (measured on the
    /// 256 x 2304 x 16 product: 177 us with one weight set hot, 310 us cycling through 22 MB
    /// of them, 203 us through 9 MB).
    F16(Vec<half::f16>),
}

/// Values widened by [`PackedA::panel`], kept by the caller between panels.
#[derive(Debug, Default)]
pub(crate) struct PanelBuf(Vec<f32>);

impl PackedA {
    /// Packs `a` (`m x k`, row-major; `a.len() >= m*k`).
    pub fn new(m: usize, k: usize, a: &[f32]) -> Self {
        let panels = m.div_ceil(MR);
        let mut data = vec![0.0; panels * k * MR];
        for (i, row) in a.chunks_exact(k.max(1)).take(m).enumerate() {
            let (p, r) = (i / MR, i % MR);
            for (kk, v) in row.iter().enumerate() {
                data[(p * k + kk) * MR + r] = *v;
            }
        }
        let halves: Option<Vec<half::f16>> = data.iter().map(|&v| exact_f16(v)).collect();
        let data = match halves {
            Some(h) => Store::F16(h),
            None => Store::F32(data),
        };
        PackedA { m, k, data }
    }

    /// `A[i][kk]` (`i < m`, `kk < k`).
    pub fn get(&self, i: usize, kk: usize) -> f32 {
        let at = ((i / MR) * self.k + kk) * MR + i % MR;
        match &self.data {
            Store::F32(d) => d[at],
            Store::F16(d) => d[at].to_f32(),
        }
    }

    /// Kept as half-precision values (see [`Store::F16`]).
    #[cfg(test)]
    pub fn is_f16(&self) -> bool {
        matches!(self.data, Store::F16(_))
    }

    pub(super) fn panels(&self) -> usize {
        self.m.div_ceil(MR)
    }

    /// Every panel as f32: in place, or widened into `buf`.
    pub(super) fn all<'a>(&'a self, buf: &'a mut PanelBuf) -> &'a [f32] {
        self.values(0..self.panels() * self.k * MR, buf)
    }

    /// Where panel `p`'s half-precision values start, if the weights are halves and there is
    /// such a panel. A panel widened on its own (`panel`) is read from memory first by the
    /// widening, which then waited on L3 or DRAM while the kernel did nothing (a tenth of a
    /// chip's descriptor time); prefetched during the previous panel's product, it is ready.
    pub(super) fn next_halves(&self, p: usize) -> *const u8 {
        match &self.data {
            Store::F16(d) if p < self.panels() => d[p * self.k * MR..].as_ptr().cast(),
            _ => std::ptr::null(),
        }
    }

    /// Panel `p` as f32: in place, or widened into `buf`.
    pub(super) fn panel<'a>(&'a self, p: usize, buf: &'a mut PanelBuf) -> &'a [f32] {
        let len = self.k * MR;
        self.values(p * len..(p + 1) * len, buf)
    }

    /// Packed values `range` as f32: in place, or widened into `buf`.
    fn values<'a>(&'a self, range: std::ops::Range<usize>, buf: &'a mut PanelBuf) -> &'a [f32] {
        match &self.data {
            Store::F32(d) => &d[range],
            Store::F16(d) => {
                buf.0.resize(range.len(), 0.0);
                widen(&d[range], &mut buf.0);
                &buf.0
            }
        }
    }
}

/// `v` as a half-precision value, if it is one exactly (`None` for every other value,
/// NaNs included). By its bits: the `half` crate's conversion and a check
/// that it widens back took 25 ms of the descriptor's load.
fn exact_f16(v: f32) -> Option<half::f16> {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let (e, m) = ((b >> 23) & 0xff, b & 0x7f_ffff);
    let bits = match e {
        0 if m == 0 => sign,
        255 if m == 0 => sign | 0x7c00,
        // Normal halves: exponents -14..=15, the 13 mantissa bits a half lacks zero.
        113..=142 if m & 0x1fff == 0 => sign | ((e - 112) << 10 | m >> 13) as u16,
        // Subnormal halves, `full * 2^(e - 150)` = `h * 2^-24`: no bit shifted out.
        103..=112 => {
            let (full, shift) = (m | 0x80_0000, 126 - e);
            if full & ((1 << shift) - 1) != 0 {
                return None;
            }
            sign | (full >> shift) as u16
        }
        _ => return None,
    };
    Some(half::f16::from_bits(bits))
}

/// `dst = src` as f32 (same lengths).
fn widen(src: &[half::f16], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("f16c") && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the features were just checked.
        return unsafe { widen_f16c(src, dst) };
    }
    half::slice::HalfFloatSliceExt::convert_to_f32_slice(src, dst);
}

/// [`widen`] 8 values per instruction (the `half` crate's call per 8 values took as long as
/// the product on a panel it widened).
///
/// # Safety
/// The CPU has F16C and AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,f16c")]
unsafe fn widen_f16c(src: &[half::f16], dst: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    for i in (0..whole).step_by(8) {
        let h = _mm_loadu_si128(src.as_ptr().add(i).cast());
        _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
    }
    for i in whole..n {
        dst[i] = src[i].to_f32();
    }
}

#[cfg(test)]
mod f16_tests {
    use super::*;
    use crate::ops::gemm::{gemm, strided, BRows, Cols, Epilogue};
    use crate::ops::simd::Isa;

    /// Every half widens to a float that `exact_f16` gives back, and floats between halves
    /// (or out of range) give none, as the `half` crate's round trip says.
    #[test]
    fn exact_f16_matches_a_round_trip() {
        for h in 0..=u16::MAX {
            let h = half::f16::from_bits(h);
            let v = h.to_f32();
            if v.is_nan() {
                assert_eq!(exact_f16(v), None);
                continue;
            }
            assert_eq!(exact_f16(v).map(|x| x.to_f32().to_bits()), Some(v.to_bits()), "{v}");
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Mostly floats near halves: few low mantissa bits set.
            let v = f32::from_bits(if x & 1 == 0 { x & !0x0fff } else { x });
            let h = half::f16::from_f32(v);
            let want = (!v.is_nan() && h.to_f32() == v).then_some(h.to_bits());
            assert_eq!(exact_f16(v).map(|h| h.to_bits()), want, "{v:e} ({:#x})", v.to_bits());
        }
    }

    /// Weights that are all halves are kept as halves, and every product path (tiles, ragged
    /// tiles across blocks, the narrow path) gives the very same bits as from f32 weights.
    #[test]
    fn half_weights_give_the_same_bits() {
        for &(m, k, n) in &[
            (13usize, 300usize, 3usize),
            (20, 37, 70),
            (64, 576, 323),
            (7, 2304, 16),
            (30, 40, 1000),
        ] {
            let w: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0).collect();
            let halves = PackedA::new(m, k, &w);
            assert!(halves.is_f16());
            let mut floats = halves.clone();
            floats.data = Store::F32(w16_to_packed(&halves));
            let ldb = n + 40;
            let bdata: Vec<f32> = (0..k * ldb).map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.37).collect();
            let off = strided(k, ldb);
            let b = BRows {
                data: &bdata,
                off: &off,
                slack: true,
            };
            let bias: Vec<f32> = (0..m).map(|i| i as f32 * 0.1).collect();
            let ep = Epilogue {
                bias: &bias,
                relu: true,
                residual: None,
                relu2: false,
            };
            for isa in Isa::available() {
                for threads in [1, 2] {
                    let run = |a: &PackedA| {
                        let mut c = vec![0.0; m * n];
                        gemm(isa, a, &b, n, &mut c, n, Cols::Plain, &ep, threads).unwrap();
                        c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                    };
                    assert_eq!(run(&halves), run(&floats), "{m}x{k}x{n} {}", isa.name());
                }
            }
        }
    }

    fn w16_to_packed(a: &PackedA) -> Vec<f32> {
        let mut buf = PanelBuf::default();
        a.all(&mut buf).to_vec()
    }
}
