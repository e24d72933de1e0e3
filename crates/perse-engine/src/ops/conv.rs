//! 2-D convolution (cross-correlation, zero padding), as ONNX `Conv` and dlib `con_`.
//!
//! Three paths, chosen per layer:
//! - 1x1, stride 1, no padding (most of MobileNetV2): the input planes already are the
//!   `cin x (h*w)` matrix, so the conv is one GEMM with no copy;
//! - depthwise (`group == cin == cout`): direct loops, see `depthwise.rs`;
//! - everything else: im2col into a `(cin*kh*kw) x (rows*wo)` matrix for a band of output
//!   rows, then GEMM. Banding caps the im2col buffer (a full-resolution 3x3 layer would
//!   otherwise need ~150 MB) at a few MB without changing the result.

use super::buffers::Buffers;
use super::{bias_act, gemm::gemm, par_chunks_mut, threads_for, Activation};
use crate::tensor::Tensor;

/// Upper bound on the im2col buffer, in floats (4 MiB).
const BAND_FLOATS: usize = 1 << 20;

/// A conv layer with its weights (OIHW, `out x in/group x kh x kw`) and fused activation.
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub cin: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub sy: usize,
    pub sx: usize,
    /// top, left, bottom, right.
    pub pads: [usize; 4],
    pub depthwise: bool,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub act: Activation,
}

impl Conv {
    /// Output `(h, w)` for an input of `(h, w)`, or `None` if the padded input is smaller
    /// than the kernel.
    pub fn out_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let hp = h + self.pads[0] + self.pads[2];
        let wp = w + self.pads[1] + self.pads[3];
        if hp < self.kh || wp < self.kw {
            return None;
        }
        Some(((hp - self.kh) / self.sy + 1, (wp - self.kw) / self.sx + 1))
    }

    /// Runs the layer. The error is a reason; the graph adds the layer name.
    pub fn forward(&self, x: &Tensor, threads: usize, buf: &mut Buffers) -> Result<Tensor, String> {
        x.expect_channels(self.cin)?;
        let (ho, wo) = self.out_size(x.h, x.w).ok_or_else(|| {
            format!(
                "input {:?} is smaller than the {}x{} kernel",
                x.shape(),
                self.kh,
                self.kw
            )
        })?;
        if self.depthwise {
            return Ok(super::depthwise::forward(self, x, ho, wo, threads, buf));
        }
        let one_by_one = self.kh == 1 && self.kw == 1 && self.sy == 1 && self.sx == 1 && self.pads == [0; 4];
        if one_by_one {
            let n = ho * wo;
            let mut data = buf.take(self.cout * n);
            let t = threads_for(self.cout * self.cin * n, threads);
            gemm(
                self.cout,
                self.cin,
                n,
                &self.weight,
                &x.data,
                &mut data,
                t,
                |co, seg| bias_act(seg, self.bias[co], self.act),
            );
            return Ok(Tensor {
                c: self.cout,
                h: ho,
                w: wo,
                data,
            });
        }
        Ok(self.forward_im2col(x, ho, wo, threads, buf))
    }

    fn forward_im2col(&self, x: &Tensor, ho: usize, wo: usize, threads: usize, buf: &mut Buffers) -> Tensor {
        let k = self.cin * self.kh * self.kw;
        let plane = ho * wo;
        let band = (BAND_FLOATS / (k * wo).max(1)).clamp(1, ho.max(1));
        let mut out = buf.take(self.cout * plane);
        let mut cols = buf.take(k * band * wo);
        let mut tmp = if band < ho {
            buf.take(self.cout * band * wo)
        } else {
            Vec::new()
        };
        let epilogue = |co: usize, seg: &mut [f32]| bias_act(seg, self.bias[co], self.act);
        for y0 in (0..ho).step_by(band) {
            let rows = band.min(ho - y0);
            let nb = rows * wo;
            let cols = &mut cols[..k * nb];
            par_chunks_mut(cols, nb, threads_for(k * nb * 4, threads), |r0, chunk| {
                for (r, dst) in chunk.chunks_mut(nb).enumerate() {
                    self.im2col_row(x, r0 + r, y0, rows, wo, dst);
                }
            });
            let t = threads_for(self.cout * k * nb, threads);
            if band >= ho {
                gemm(self.cout, k, nb, &self.weight, cols, &mut out, t, epilogue);
            } else {
                let tmp = &mut tmp[..self.cout * nb];
                gemm(self.cout, k, nb, &self.weight, cols, tmp, t, epilogue);
                for (co, src) in tmp.chunks(nb).enumerate() {
                    out[co * plane + y0 * wo..][..nb].copy_from_slice(src);
                }
            }
        }
        buf.give(cols);
        buf.give(tmp);
        Tensor {
            c: self.cout,
            h: ho,
            w: wo,
            data: out,
        }
    }

    /// Fills one im2col row `r = (ci*kh + i)*kw + j` for output rows `y0..y0+rows`:
    /// `dst[(oy-y0)*wo + ox] = x[ci, oy*sy + i - pad_top, ox*sx + j - pad_left]` (0 outside).
    fn im2col_row(&self, x: &Tensor, r: usize, y0: usize, rows: usize, wo: usize, dst: &mut [f32]) {
        let j = r % self.kw;
        let i = (r / self.kw) % self.kh;
        let ci = r / (self.kw * self.kh);
        let src = x.channel(ci);
        let (lo, hi) = valid_range(j, self.pads[1], self.sx, x.w, wo);
        for (dy, d) in dst.chunks_mut(wo).take(rows).enumerate() {
            let iy = (y0 + dy) * self.sy + i;
            if iy < self.pads[0] || iy - self.pads[0] >= x.h || lo >= hi {
                d.fill(0.0);
                continue;
            }
            let row = &src[(iy - self.pads[0]) * x.w..][..x.w];
            d[..lo].fill(0.0);
            d[hi..].fill(0.0);
            let first = lo * self.sx + j - self.pads[1];
            if self.sx == 1 {
                d[lo..hi].copy_from_slice(&row[first..first + (hi - lo)]);
            } else {
                for (o, v) in d[lo..hi].iter_mut().zip(row[first..].iter().step_by(self.sx)) {
                    *o = *v;
                }
            }
        }
    }
}

/// Output columns `lo..hi` whose tap `j` lands inside the input row: the `ox` with
/// `0 <= ox*stride + j - pad < w`. Shared with the depthwise path.
pub(crate) fn valid_range(j: usize, pad: usize, stride: usize, w: usize, wo: usize) -> (usize, usize) {
    // ox*stride + j >= pad  <=>  ox >= ceil((pad - j) / stride)
    let lo = if j >= pad { 0 } else { (pad - j).div_ceil(stride) };
    // ox*stride + j - pad <= w - 1  <=>  ox <= (w - 1 + pad - j) / stride
    let hi = if w + pad > j {
        ((w - 1 + pad - j) / stride + 1).min(wo)
    } else {
        0
    };
    (lo.min(hi), hi)
}
