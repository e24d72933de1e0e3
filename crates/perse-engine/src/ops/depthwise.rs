//! Depthwise conv (`group == cin == cout`): one small kernel per channel.
//!
//! A GEMM would be 1 x 9 per channel, so direct loops are both simpler and faster. The
//! common 3x3 / stride 1 / pad 1 case has its own kernel: each input row adds its three taps
//! to the output row in one pass over equal-length slices, which the compiler vectorises
//! (the generic loop, one pass per tap, was 21 % of a CenterFace run). Other geometries use
//! the generic loop. Channels are split over the threads.

use super::buffers::Buffers;
use super::conv::{valid_range, Conv};
use super::{par_chunks_mut, threads_for};
use crate::tensor::Tensor;

pub(crate) fn forward(conv: &Conv, x: &Tensor, ho: usize, wo: usize, threads: usize, buf: &mut Buffers) -> Tensor {
    let plane = ho * wo;
    let mut out = Tensor {
        c: conv.cout,
        h: ho,
        w: wo,
        data: buf.take(conv.cout * plane),
    };
    let taps = conv.kh * conv.kw;
    let k3p1 = conv.kh == 3 && conv.kw == 3 && conv.pads == [1; 4];
    let s1 = k3p1 && conv.sy == 1 && conv.sx == 1 && x.w >= 3;
    let s2 = k3p1 && conv.sy == 2 && conv.sx == 2 && x.w >= 2;
    let t = threads_for(conv.cout * plane * taps, threads);
    par_chunks_mut(&mut out.data, plane, t, |c0, chunk| {
        for (dc, dst) in chunk.chunks_mut(plane).enumerate() {
            let c = c0 + dc;
            let k = &conv.weight[c * taps..][..taps];
            if s1 {
                channel_3x3s1(x.channel(c), x.h, x.w, k, conv.bias[c], dst);
            } else if s2 {
                channel_3x3s2(x.channel(c), x.h, x.w, k, conv.bias[c], wo, dst);
            } else {
                channel(conv, x.channel(c), x.h, x.w, k, conv.bias[c], wo, dst);
            }
            conv.act.apply(dst);
        }
    });
    out
}

/// 3x3, stride 1, pad 1 (output size = input size, `w >= 3`).
fn channel_3x3s1(src: &[f32], h: usize, w: usize, k: &[f32], bias: f32, dst: &mut [f32]) {
    let n = w - 2;
    for (oy, orow) in dst.chunks_mut(w).enumerate() {
        orow.fill(bias);
        for i in 0..3 {
            // Input row oy + i - 1.
            let Some(iy) = (oy + i).checked_sub(1).filter(|&iy| iy < h) else {
                continue;
            };
            let r = &src[iy * w..][..w];
            let (k0, k1, k2) = (k[i * 3], k[i * 3 + 1], k[i * 3 + 2]);
            orow[0] += k1 * r[0] + k2 * r[1];
            orow[w - 1] += k0 * r[w - 2] + k1 * r[w - 1];
            let (a, b, c) = (&r[..n], &r[1..n + 1], &r[2..n + 2]);
            let o = &mut orow[1..n + 1];
            for t in 0..n {
                o[t] += k0 * a[t] + k1 * b[t] + k2 * c[t];
            }
        }
    }
}

/// 3x3, stride 2, pad 1 (`w >= 2`). Each input row is split into its even and odd columns
/// so that output column `ox` reads `odd[ox-1]`, `even[ox]`, `odd[ox]`: contiguous slices
/// again, instead of a stride-2 gather.
fn channel_3x3s2(src: &[f32], h: usize, w: usize, k: &[f32], bias: f32, wo: usize, dst: &mut [f32]) {
    let (ne, no) = (w.div_ceil(2), w / 2);
    debug_assert_eq!(ne, wo);
    let (mut even, mut odd) = (vec![0.0f32; ne], vec![0.0f32; no]);
    for (oy, orow) in dst.chunks_mut(wo).enumerate() {
        orow.fill(bias);
        for i in 0..3 {
            // Input row 2*oy + i - 1.
            let Some(iy) = (2 * oy + i).checked_sub(1).filter(|&iy| iy < h) else {
                continue;
            };
            let r = &src[iy * w..][..w];
            for (e, v) in even.iter_mut().zip(r.iter().step_by(2)) {
                *e = *v;
            }
            for (o, v) in odd.iter_mut().zip(r[1..].iter().step_by(2)) {
                *o = *v;
            }
            let (k0, k1, k2) = (k[i * 3], k[i * 3 + 1], k[i * 3 + 2]);
            orow[0] += k1 * even[0] + k2 * odd[0];
            // Interior 1 <= ox < no: all three taps inside the row.
            let n = no.saturating_sub(1);
            let (a, b, c) = (&odd[..n], &even[1..n + 1], &odd[1..n + 1]);
            let o = &mut orow[1..n + 1];
            for t in 0..n {
                o[t] += k0 * a[t] + k1 * b[t] + k2 * c[t];
            }
            if ne > no {
                // Odd width: the last output column has no right neighbour.
                orow[no] += k0 * odd[no - 1] + k1 * even[no];
            }
        }
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
