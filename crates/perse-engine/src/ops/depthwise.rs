//! Depthwise conv (`group == cin == cout`): one small kernel per channel.
//!
//! A GEMM would be 1 x 9 per channel, so direct loops are both simpler and faster. The
//! common 3x3 / pad 1 geometries (strides 1 and 2) have their own kernel, which computes each
//! output row in one pass over its three input rows (all nine taps, the bias and the
//! activation while the row is in registers and L1) over equal-length slices the compiler
//! vectorises. Stride 2 first splits each input row into its even and odd columns, so that
//! the taps read contiguous slices again instead of a stride-2 gather. Other geometries use
//! a generic loop. Channels are split over the threads.
//!
//! The 3x3 kernel reads its input through [`Rows`], so the same code runs on a whole tensor
//! and on the band of rows a fused inverted-residual block keeps in cache (`block.rs`).
//!
//! The loops are compiled twice: for the target's baseline, and with AVX2+FMA enabled (used
//! when the CPU has them, see [`Isa`]), where the multiply-adds become FMA instructions.

use super::buffers::Buffers;
use super::layer::{valid_range, Conv};
use super::simd::{Isa, MulAdd, Separate};
use super::{par_chunks_mut, threads_for, Activation, Ctx};
use crate::tensor::Tensor;

/// Where a depthwise conv reads its input: image row `iy` of channel `c` is
/// `data[c*ch_stride + (iy - row0)*w ..][..w]` for the rows held, `row0 <= iy < row0 + held`.
/// Rows outside the image (`iy < 0` or `iy >= h`) are the zero padding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub data: &'a [f32],
    pub w: usize,
    pub h: usize,
    pub ch_stride: usize,
    pub row0: usize,
    pub held: usize,
}

impl<'a> Rows<'a> {
    /// A whole CHW tensor.
    pub fn tensor(x: &'a Tensor) -> Self {
        Rows {
            data: &x.data,
            w: x.w,
            h: x.h,
            ch_stride: x.h * x.w,
            row0: 0,
            held: x.h,
        }
    }

    /// Row `iy` of channel `c`, or `zero` for padding (and, defensively, for a row not held).
    #[inline(always)]
    fn row(&self, c: usize, iy: isize, zero: &'a [f32]) -> &'a [f32] {
        let held =
            iy >= 0 && (iy as usize) < self.h && (iy as usize) >= self.row0 && (iy as usize) < self.row0 + self.held;
        if !held {
            return zero;
        }
        let at = c * self.ch_stride + (iy as usize - self.row0) * self.w;
        self.data.get(at..at + self.w).unwrap_or(zero)
    }
}

/// True when [`rows_3x3`] handles this layer (3x3, pad 1, stride 1 or 2, wide enough).
pub(crate) fn is_3x3(conv: &Conv, w: usize) -> bool {
    conv.kh == 3
        && conv.kw == 3
        && conv.pads == [1; 4]
        && ((conv.sy == 1 && conv.sx == 1 && w >= 3) || (conv.sy == 2 && conv.sx == 2 && w >= 2))
}

/// Runs the layer on a whole tensor; `weight` is `cout x kh*kw`.
pub(crate) fn forward(
    conv: &Conv,
    weight: &[f32],
    x: &Tensor,
    ho: usize,
    wo: usize,
    ctx: Ctx,
    buf: &mut Buffers,
) -> Tensor {
    let plane = ho * wo;
    let mut out = Tensor {
        c: conv.cout,
        h: ho,
        w: wo,
        data: buf.take(conv.cout * plane),
    };
    let taps = conv.kh * conv.kw;
    let t = threads_for(conv.cout * plane * taps, ctx.threads);
    let src = Rows::tensor(x);
    par_chunks_mut(&mut out.data, plane, t, |c0, chunk| {
        if !is_3x3(conv, x.w) {
            for (dc, dst) in chunk.chunks_mut(plane.max(1)).enumerate() {
                let c = c0 + dc;
                channel(
                    conv,
                    x.channel(c),
                    x.h,
                    x.w,
                    &weight[c * taps..][..taps],
                    conv.bias[c],
                    wo,
                    dst,
                );
                conv.act.apply(dst);
            }
            return;
        }
        let channels = chunk.len() / plane.max(1);
        if x.w < PLANE_MAX_W {
            planes_3x3(ctx.isa, conv, weight, x, c0, channels, ho, wo, chunk);
        } else {
            rows_3x3(ctx.isa, conv, weight, &src, c0, channels, 0, ho, wo, chunk, plane);
        }
    });
    out
}

/// Inputs narrower than this take [`planes_3x3`]: a row kernel over rows this short spends
/// more on each row's setup and edges than on its arithmetic (measured on CenterFace at a
/// 150 px chip: 1-3 GMAC/s on its 20 to 5 pixel wide depthwise layers, 28 % of the run).
const PLANE_MAX_W: usize = 64;

/// [`rows_3x3`] for whole channels, one flat pass per channel: the channel is copied into a
/// zero-padded plane (for stride 2, its four stride phases), and every tap is then a shifted
/// slice of it, so the nine multiply-adds run over the whole plane at once, rows and
/// padding included, and only the kept columns are stored. Output channel `c0 + i` goes to
/// `dst[i*ho*wo..]`.
#[allow(clippy::too_many_arguments)]
fn planes_3x3(
    isa: Isa,
    conv: &Conv,
    weight: &[f32],
    x: &Tensor,
    c0: usize,
    channels: usize,
    ho: usize,
    wo: usize,
    dst: &mut [f32],
) {
    match isa.checked().without_avx512() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `checked` only keeps Avx2 on a CPU with AVX2 and FMA.
        Isa::Avx2 => unsafe { planes_avx2(conv, weight, x, c0, channels, ho, wo, dst) },
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => planes::<super::simd::Fused>(conv, weight, x, c0, channels, ho, wo, dst),
        _ => planes::<Separate>(conv, weight, x, c0, channels, ho, wo, dst),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn planes_avx2(
    conv: &Conv,
    weight: &[f32],
    x: &Tensor,
    c0: usize,
    channels: usize,
    ho: usize,
    wo: usize,
    dst: &mut [f32],
) {
    planes::<super::simd::Fused>(conv, weight, x, c0, channels, ho, wo, dst)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn planes<M: MulAdd>(
    conv: &Conv,
    weight: &[f32],
    x: &Tensor,
    c0: usize,
    channels: usize,
    ho: usize,
    wo: usize,
    dst: &mut [f32],
) {
    let (h, w) = (x.h, x.w);
    let s = conv.sy;
    // The padded plane is (h+2) x (w+2); with stride 2 it is held as its four phases
    // (even/odd rows x even/odd columns), each `hq x wq`. Tap (dy, dx) of output (oy, ox)
    // reads phase (dy%s, dx%s) at row oy + dy/s, column ox + dx/s: in a flat plane `wq`
    // wide, the output's pixel `oy*wq + ox` plus a fixed shift per tap.
    let (hq, wq) = ((h + 2).div_ceil(s), (w + 2).div_ceil(s));
    let phase = hq * wq;
    if ho == 0 || wo == 0 || wo >= wq || ho >= hq {
        return;
    }
    let n = (ho - 1) * wq + wo;
    let mut padded = vec![0.0f32; s * s * phase];
    let mut wide = vec![0.0f32; n];
    let shifts: [usize; 9] = std::array::from_fn(|t| {
        let (dy, dx) = (t / 3, t % 3);
        ((dy % s) * s + dx % s) * phase + (dy / s) * wq + dx / s
    });
    for i in 0..channels {
        let c = c0 + i;
        let (Some(k), Some(src), Some(out)) = (
            weight.get(c * 9..c * 9 + 9).and_then(|k| <&[f32; 9]>::try_from(k).ok()),
            x.data.get(c * h * w..(c + 1) * h * w),
            dst.get_mut(i * ho * wo..(i + 1) * ho * wo),
        ) else {
            continue;
        };
        let bias = conv.bias.get(c).copied().unwrap_or(0.0);
        // Padded pixel (y+1, x+1) lies in phase ((y+1)%s, (x+1)%s) at ((y+1)/s, (x+1)/s).
        // The padding stays zero: every channel writes the same positions.
        for (y, row) in src.chunks_exact(w).enumerate() {
            let (py, iy) = ((y + 1) % s, (y + 1) / s);
            if s == 1 {
                padded[iy * wq + 1..][..w].copy_from_slice(row);
            } else {
                // Even x goes to the odd-column phase at x/2, odd x to the even one at x/2 + 1.
                let at = py * 2 * phase + iy * wq;
                for (d, v) in padded[at + phase..][..w.div_ceil(2)]
                    .iter_mut()
                    .zip(row.iter().step_by(2))
                {
                    *d = *v;
                }
                for (d, v) in padded[at + 1..][..w / 2].iter_mut().zip(row[1..].iter().step_by(2)) {
                    *d = *v;
                }
            }
        }
        let tap = |t: usize| &padded[shifts[t]..][..n];
        taps_3x3::<M>(k, bias, std::array::from_fn(tap), &mut wide);
        // The kept columns, with the activation on the way (a copy, then a pass over rows this
        // short, cost a call and a store-forwarding stall per row).
        let relu = conv.act == Activation::Relu;
        for (orow, wrow) in out.chunks_exact_mut(wo).zip(wide.chunks(wq)) {
            for (o, v) in orow.iter_mut().zip(wrow) {
                *o = if relu { v.max(0.0) } else { *v };
            }
            if !relu {
                conv.act.apply(orow);
            }
        }
    }
}

/// Output rows `oy0..oy1` of channels `c0..c0+channels` of a 3x3 / pad 1 layer (see
/// [`is_3x3`]), on one thread: channel `c0 + i`, row `oy` goes to
/// `dst[i*dst_stride + (oy - oy0)*wo ..][..wo]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rows_3x3(
    isa: Isa,
    conv: &Conv,
    weight: &[f32],
    src: &Rows,
    c0: usize,
    channels: usize,
    oy0: usize,
    oy1: usize,
    wo: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    match isa.checked().without_avx512() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `checked` only keeps Avx2 on a CPU with AVX2 and FMA.
        Isa::Avx2 => unsafe { rows_avx2(conv, weight, src, c0, channels, oy0, oy1, wo, dst, dst_stride) },
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => rows::<super::simd::Fused>(conv, weight, src, c0, channels, oy0, oy1, wo, dst, dst_stride),
        _ => rows::<Separate>(conv, weight, src, c0, channels, oy0, oy1, wo, dst, dst_stride),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_avx2(
    conv: &Conv,
    weight: &[f32],
    src: &Rows,
    c0: usize,
    channels: usize,
    oy0: usize,
    oy1: usize,
    wo: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    rows::<super::simd::Fused>(conv, weight, src, c0, channels, oy0, oy1, wo, dst, dst_stride)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rows<M: MulAdd>(
    conv: &Conv,
    weight: &[f32],
    src: &Rows,
    c0: usize,
    channels: usize,
    oy0: usize,
    oy1: usize,
    wo: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    let w = src.w;
    let zero = vec![0.0f32; w];
    let mut split = vec![0.0f32; if conv.sy == 2 { 3 * w } else { 0 }];
    for i in 0..channels {
        let c = c0 + i;
        let Some(k) = weight.get(c * 9..c * 9 + 9).and_then(|k| <&[f32; 9]>::try_from(k).ok()) else {
            continue;
        };
        let bias = conv.bias.get(c).copied().unwrap_or(0.0);
        for oy in oy0..oy1 {
            let at = i * dst_stride + (oy - oy0) * wo;
            let Some(orow) = dst.get_mut(at..at + wo) else {
                continue;
            };
            let top = (oy * conv.sy) as isize - 1;
            let r = [
                src.row(c, top, &zero),
                src.row(c, top + 1, &zero),
                src.row(c, top + 2, &zero),
            ];
            if conv.sy == 1 {
                row_3x3s1::<M>(r, w, k, bias, orow);
            } else {
                row_3x3s2::<M>(r, w, k, bias, &mut split, orow);
            }
            conv.act.apply(orow);
        }
    }
}

/// `out[t] = bias + sum_i k[i] * s[i][t]`, the nine taps in order (every 3x3 path shares this
/// loop, so they all round alike); the slices are cut to `out`'s length first, so the
/// compiler drops the bounds checks and vectorises it.
#[inline(always)]
fn taps_3x3<M: MulAdd>(k: &[f32; 9], bias: f32, s: [&[f32]; 9], out: &mut [f32]) {
    let n = out.len();
    let [a0, b0, c0, a1, b1, c1, a2, b2, c2] = s.map(|x| &x[..n]);
    for (t, o) in out.iter_mut().enumerate() {
        let mut v = M::mul_add(k[0], a0[t], bias);
        v = M::mul_add(k[1], b0[t], v);
        v = M::mul_add(k[2], c0[t], v);
        v = M::mul_add(k[3], a1[t], v);
        v = M::mul_add(k[4], b1[t], v);
        v = M::mul_add(k[5], c1[t], v);
        v = M::mul_add(k[6], a2[t], v);
        v = M::mul_add(k[7], b2[t], v);
        *o = M::mul_add(k[8], c2[t], v);
    }
}

/// One output row of a 3x3 / stride 1 / pad 1 conv from its three input rows (`w >= 3`).
#[inline(always)]
fn row_3x3s1<M: MulAdd>(r: [&[f32]; 3], w: usize, k: &[f32; 9], bias: f32, orow: &mut [f32]) {
    let n = w - 2;
    let mut first = bias;
    let mut last = bias;
    for (i, ri) in r.iter().enumerate() {
        first = M::mul_add(k[i * 3 + 1], ri[0], M::mul_add(k[i * 3 + 2], ri[1], first));
        last = M::mul_add(k[i * 3], ri[w - 2], M::mul_add(k[i * 3 + 1], ri[w - 1], last));
    }
    let (a0, b0, c0) = (&r[0][..n], &r[0][1..n + 1], &r[0][2..n + 2]);
    let (a1, b1, c1) = (&r[1][..n], &r[1][1..n + 1], &r[1][2..n + 2]);
    let (a2, b2, c2) = (&r[2][..n], &r[2][1..n + 1], &r[2][2..n + 2]);
    let o = &mut orow[1..n + 1];
    taps_3x3::<M>(k, bias, [a0, b0, c0, a1, b1, c1, a2, b2, c2], o);
    orow[0] = first;
    orow[w - 1] = last;
}

/// One output row of a 3x3 / stride 2 / pad 1 conv (`w >= 2`, `orow` has `ceil(w/2)`
/// values). Each input row is split into its even and odd columns (in `split`, `3*w`
/// floats) so that output column `ox` reads `odd[ox-1]`, `even[ox]`, `odd[ox]`.
#[inline(always)]
fn row_3x3s2<M: MulAdd>(r: [&[f32]; 3], w: usize, k: &[f32; 9], bias: f32, split: &mut [f32], orow: &mut [f32]) {
    let (ne, no) = (w.div_ceil(2), w / 2);
    for (part, ri) in split.chunks_mut(w).zip(r) {
        let (even, odd) = part.split_at_mut(ne);
        for (e, v) in even.iter_mut().zip(ri.iter().step_by(2)) {
            *e = *v;
        }
        for (o, v) in odd.iter_mut().zip(ri[1..].iter().step_by(2)) {
            *o = *v;
        }
    }
    let row = |i: usize| split[i * w..][..w].split_at(ne);
    let ((e0, o0), (e1, o1), (e2, o2)) = (row(0), row(1), row(2));
    let mut first = bias;
    for (i, (e, o)) in [(e0, o0), (e1, o1), (e2, o2)].iter().enumerate() {
        first = M::mul_add(k[i * 3 + 1], e[0], first);
        if no > 0 {
            first = M::mul_add(k[i * 3 + 2], o[0], first);
        }
    }
    // Interior 1 <= ox < no: all three taps inside the row.
    let n = no.saturating_sub(1);
    let (a0, b0, c0) = (&o0[..n], &e0[1..n + 1], &o0[1..n + 1]);
    let (a1, b1, c1) = (&o1[..n], &e1[1..n + 1], &o1[1..n + 1]);
    let (a2, b2, c2) = (&o2[..n], &e2[1..n + 1], &o2[1..n + 1]);
    let out = &mut orow[1..n + 1];
    taps_3x3::<M>(k, bias, [a0, b0, c0, a1, b1, c1, a2, b2, c2], out);
    orow[0] = first;
    if ne > no && no > 0 {
        // Odd width: the last output column has no right neighbour.
        let mut v = bias;
        for (i, (e, o)) in [(e0, o0), (e1, o1), (e2, o2)].iter().enumerate() {
            v = M::mul_add(k[i * 3], o[no - 1], M::mul_add(k[i * 3 + 1], e[no], v));
        }
        orow[no] = v;
    }
}

/// Any kernel size, stride and padding: one pass over the output row per tap.
#[allow(clippy::too_many_arguments)] // one channel's geometry; a struct would only rename these
fn channel(conv: &Conv, src: &[f32], h: usize, w: usize, k: &[f32], bias: f32, wo: usize, dst: &mut [f32]) {
    let [pt, pl, ..] = conv.pads;
    let ranges: Vec<(usize, usize)> = (0..conv.kw).map(|j| valid_range(j, pl, conv.sx, w, wo)).collect();
    for (oy, orow) in dst.chunks_mut(wo).enumerate() {
        orow.fill(bias);
        for i in 0..conv.kh {
            let iy = oy * conv.sy + i;
            if iy < pt || iy - pt >= h {
                continue;
            }
            let irow = &src[(iy - pt) * w..][..w];
            for (j, &(lo, hi)) in ranges.iter().enumerate() {
                if lo >= hi {
                    continue;
                }
                let wv = k[i * conv.kw + j];
                let first = lo * conv.sx + j - pl;
                if conv.sx == 1 {
                    for (o, v) in orow[lo..hi].iter_mut().zip(&irow[first..first + (hi - lo)]) {
                        *o += wv * v;
                    }
                } else {
                    for (o, v) in orow[lo..hi].iter_mut().zip(irow[first..].iter().step_by(conv.sx)) {
                        *o += wv * v;
                    }
                }
            }
        }
    }
}
