//! ONNX `ConvTranspose` with kernel 2x2, stride 2, no padding, group 1 — CenterFace's
//! upsampling path: `out[co, 2y+a, 2x+b] = bias[co] + sum_ci in[ci, y, x] * W[ci, co, a, b]`.
//!
//! The four output phases `(a, b)` do not overlap, so it is one GEMM: the weight reordered
//! at load time into a `(cout*4) x cin` matrix (row `co*4 + a*2 + b`) times the
//! `cin x (h*w)` input, followed by a scatter into the interleaved output.

use super::buffers::Buffers;
use super::{gemm::gemm, threads_for, Activation};
use crate::tensor::Tensor;

#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose2x2 {
    pub cin: usize,
    pub cout: usize,
    /// `(cout*4) x cin`, reordered from the file's `(cin, cout, 2, 2)`.
    pub weight_t: Vec<f32>,
    pub bias: Vec<f32>,
    pub act: Activation,
}

impl ConvTranspose2x2 {
    /// Builds the layer from the file's IOHW weight `(cin, cout, 2, 2)`.
    pub fn new(cin: usize, cout: usize, weight_iohw: &[f32], bias: Vec<f32>, act: Activation) -> Self {
        let mut weight_t = vec![0.0; cout * 4 * cin];
        for ci in 0..cin {
            for r in 0..cout * 4 {
                weight_t[r * cin + ci] = weight_iohw[ci * cout * 4 + r];
            }
        }
        ConvTranspose2x2 {
            cin,
            cout,
            weight_t,
            bias,
            act,
        }
    }

    pub fn forward(&self, x: &Tensor, threads: usize, buf: &mut Buffers) -> Result<Tensor, String> {
        x.expect_channels(self.cin)?;
        let n = x.plane();
        let m = self.cout * 4;
        let mut phases = buf.take(m * n);
        gemm(
            m,
            self.cin,
            n,
            &self.weight_t,
            &x.data,
            &mut phases,
            threads_for(m * self.cin * n, threads),
            |_, _| {},
        );
        let (h, w) = (x.h, x.w);
        let mut out = Tensor {
            c: self.cout,
            h: 2 * h,
            w: 2 * w,
            data: buf.take(self.cout * 4 * n),
        };
        let plane = out.plane();
        for co in 0..self.cout {
            let dst = &mut out.data[co * plane..][..plane];
            for a in 0..2 {
                for b in 0..2 {
                    let src = &phases[(co * 4 + a * 2 + b) * n..][..n];
                    for y in 0..h {
                        let drow = &mut dst[(2 * y + a) * 2 * w..][..2 * w];
                        for (xx, v) in src[y * w..][..w].iter().enumerate() {
                            drow[2 * xx + b] = *v;
                        }
                    }
                }
            }
            dst.iter_mut().for_each(|v| *v += self.bias[co]);
            self.act.apply(dst);
        }
        buf.give(phases);
        Ok(out)
    }
}
