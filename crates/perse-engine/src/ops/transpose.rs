//! ONNX `ConvTranspose` with kernel 2x2, stride 2, no padding, group 1 — CenterFace's
//! upsampling path: `out[co, 2y+a, 2x+b] = bias[co] + sum_ci in[ci, y, x] * W[ci, co, a, b]`.
//!
//! The four output phases `(a, b)` do not overlap, so it is one GEMM: the weight reordered
//! and packed at load time into a `(cout*4) x cin` matrix (row `co*4 + a*2 + b`) times the
//! `cin x (h*w)` input, with the bias and activation in its epilogue, followed by a scatter
//! into the interleaved output.

use super::buffers::Buffers;
use super::gemm::{gemm, strided, BRows, Cols, Epilogue, PackedA};
use super::{threads_for, Activation, Ctx};
use crate::tensor::Tensor;

#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose2x2 {
    pub cin: usize,
    pub cout: usize,
    /// `(cout*4) x cin`, reordered from the file's `(cin, cout, 2, 2)`, packed.
    pub weight_t: PackedA,
    /// The bias of each GEMM row (`co*4 + phase`): each channel's bias four times.
    pub bias4: Vec<f32>,
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
            weight_t: PackedA::new(cout * 4, cin, &weight_t),
            bias4: bias.iter().flat_map(|&b| [b; 4]).collect(),
            act,
        }
    }

    pub fn forward(&self, x: &Tensor, ctx: Ctx, buf: &mut Buffers) -> Result<Tensor, String> {
        x.expect_channels(self.cin)?;
        let n = x.plane();
        let m = self.cout * 4;
        let mut phases = buf.take(m * n);
        let ep = Epilogue {
            bias: &self.bias4,
            relu: self.act == Activation::Relu,
            residual: None,
            relu2: false,
        };
        let t = threads_for(m * self.cin * n, ctx.threads);
        let b = BRows {
            data: &x.data,
            off: &strided(self.cin, n),
            slack: false,
        };
        if let Err(e) = gemm(ctx.isa, &self.weight_t, &b, n, &mut phases, n, Cols::Plain, &ep, t) {
            buf.give(phases);
            return Err(e);
        }
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
                // Phases (a, 0) and (a, 1) interleave into output rows 2y + a.
                let even = &phases[(co * 4 + a * 2) * n..][..n];
                let odd = &phases[(co * 4 + a * 2 + 1) * n..][..n];
                for y in 0..h {
                    let drow = &mut dst[(2 * y + a) * 2 * w..][..2 * w];
                    let pairs = even[y * w..][..w].iter().zip(&odd[y * w..][..w]);
                    for (d, (u, v)) in drow.chunks_exact_mut(2).zip(pairs) {
                        d[0] = *u;
                        d[1] = *v;
                    }
                }
            }
            if self.act == Activation::Sigmoid {
                self.act.apply(dst);
            }
        }
        buf.give(phases);
        Ok(out)
    }
}
