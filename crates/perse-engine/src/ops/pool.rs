//! Pooling and the final fully connected layer (dlib ResNet only).
//!
//! Pools have no padding here (`out = floor((in - k)/s) + 1`), which is what the graph
//! metadata specifies; the graph builder rejects padded pools.

use super::buffers::Buffers;
use crate::tensor::Tensor;

/// Max or average pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolKind {
    Max,
    Avg,
}

/// `k x k`-style window pooling with stride, no padding.
pub(crate) fn pool(
    x: &Tensor,
    k: [usize; 2],
    s: [usize; 2],
    kind: PoolKind,
    buf: &mut Buffers,
) -> Result<Tensor, String> {
    let [kh, kw] = k;
    if x.h < kh || x.w < kw {
        return Err(format!("input {:?} is smaller than the {kh}x{kw} window", x.shape()));
    }
    let (ho, wo) = ((x.h - kh) / s[0] + 1, (x.w - kw) / s[1] + 1);
    let mut out = Tensor {
        c: x.c,
        h: ho,
        w: wo,
        data: buf.take(x.c * ho * wo),
    };
    let inv = 1.0 / (kh * kw) as f32;
    let max = kind == PoolKind::Max;
    // Separable, in passes over whole rows that the compiler vectorises: the window's rows
    // combined into one, then its columns (`width` sums or maxima, of which every `s[1]`-th
    // is kept). The sums add in the order they did value by value, so the same bits; the
    // maximum is `b > a ? b : a` (`f32::max`, which passes NaNs over, is a scalar chain here:
    // the descriptor's 3x3 stride-2 pool took 0.37 ms).
    let fold = |acc: &mut [f32], b: &[f32]| {
        if max {
            acc.iter_mut()
                .zip(b)
                .for_each(|(a, &b)| *a = if b > *a { b } else { *a });
        } else {
            acc.iter_mut().zip(b).for_each(|(a, &b)| *a += b);
        }
    };
    let width = x.w - kw + 1;
    let (mut rows, mut cols) = (vec![0.0f32; x.w], vec![0.0f32; width]);
    for (c, plane) in out.data.chunks_mut(ho * wo).enumerate() {
        let src = x.channel(c);
        for (oy, orow) in plane.chunks_mut(wo).enumerate() {
            rows.copy_from_slice(&src[oy * s[0] * x.w..][..x.w]);
            for i in 1..kh {
                fold(&mut rows, &src[(oy * s[0] + i) * x.w..][..x.w]);
            }
            cols.copy_from_slice(&rows[..width]);
            for j in 1..kw {
                fold(&mut cols, &rows[j..]);
            }
            for (o, &v) in orow.iter_mut().zip(cols.iter().step_by(s[1])) {
                *o = if max { v } else { v * inv };
            }
        }
    }
    Ok(out)
}

/// Mean over each channel's plane: `c x 1 x 1`.
pub(crate) fn global_avg_pool(x: &Tensor) -> Tensor {
    let p = x.plane().max(1) as f32;
    let data = (0..x.c).map(|c| x.channel(c).iter().sum::<f32>() / p).collect();
    Tensor {
        c: x.c,
        h: 1,
        w: 1,
        data,
    }
}

/// `out[j] = sum_i in[i] * w[i, j] (+ bias[j])`, weight stored `(cin, cout)`.
pub(crate) fn fc(x: &Tensor, w: &[f32], bias: Option<&[f32]>, cin: usize, cout: usize) -> Result<Tensor, String> {
    if x.data.len() != cin {
        return Err(format!("expects {cin} inputs, got shape {:?}", x.shape()));
    }
    let mut out = bias.map_or_else(|| vec![0.0f32; cout], <[f32]>::to_vec);
    for (i, v) in x.data.iter().enumerate() {
        for (o, wv) in out.iter_mut().zip(&w[i * cout..][..cout]) {
            *o += v * wv;
        }
    }
    Ok(Tensor {
        c: cout,
        h: 1,
        w: 1,
        data: out,
    })
}
