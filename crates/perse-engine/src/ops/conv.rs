//! 2-D convolution (cross-correlation, zero padding), as ONNX `Conv` and dlib `con_`.
//!
//! Three paths, chosen per layer:
//! - 1x1, stride 1, no padding (most of MobileNetV2): the input planes already are the
//!   `cin x (h*w)` matrix B, so the conv is one GEMM ([`gemm`]) reading the tensor in place;
//! - depthwise (`group == cin == cout`): direct loops, see `depthwise.rs`;
//! - everything else: im2col into a `(cin*kh*kw) x (rows*wo)` matrix for a band of output
//!   rows, then the GEMM writes straight into those rows of the output. Banding caps the
//!   im2col buffer (a full-resolution 3x3 layer would otherwise need ~150 MB) at a few MB
//!   without changing the result.
//!
//! Dense weights are packed for the GEMM when the graph is built. The GEMM's epilogue adds
//! the bias, applies a ReLU and, when the graph fused the following residual `add`, adds that
//! input and applies the add's activation, all before the output is first stored.

use super::buffers::Buffers;
use super::gemm::{gemm, Epilogue, PackedA};
use super::{elementwise, par_chunks_mut, threads_for, Activation, Ctx};
use crate::tensor::Tensor;

/// Upper bound on the im2col buffer, in floats (4 MiB).
const BAND_FLOATS: usize = 1 << 20;

/// A conv layer with its weights and fused activation.
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
    pub weights: ConvWeights,
    pub bias: Vec<f32>,
    pub act: Activation,
}

/// The weights in the layout their path reads.
#[derive(Debug, Clone)]
pub(crate) enum ConvWeights {
    /// `cout x kh*kw` (OIHW with I = 1).
    Depthwise(Vec<f32>),
    /// `cout x cin*kh*kw` (OIHW), packed for the GEMM.
    Dense(PackedA),
}

/// A residual `add` (or dlib `add_pad`) fused into the conv that produces its other input:
/// `out = act(conv(x) + other)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Residual<'a> {
    pub other: &'a Tensor,
    /// `add_pad` semantics (zero-extended to the larger shape) instead of `add` (equal shapes).
    pub pad: bool,
    pub act: Activation,
}

impl Conv {
    /// Builds the layer from OIHW weights (`cout x cin/group x kh x kw`).
    #[allow(clippy::too_many_arguments)] // the layer's geometry, as the graph file gives it
    pub fn new(
        cin: usize,
        cout: usize,
        [kh, kw]: [usize; 2],
        [sy, sx]: [usize; 2],
        pads: [usize; 4],
        depthwise: bool,
        weight: Vec<f32>,
        bias: Vec<f32>,
        act: Activation,
    ) -> Self {
        let weights = if depthwise {
            ConvWeights::Depthwise(weight)
        } else {
            ConvWeights::Dense(PackedA::new(cout, cin * kh * kw, &weight))
        };
        Conv {
            cin,
            cout,
            kh,
            kw,
            sy,
            sx,
            pads,
            weights,
            bias,
            act,
        }
    }

    /// The path this layer takes, for profiles.
    pub fn kind(&self) -> &'static str {
        match self.weights {
            ConvWeights::Depthwise(_) => "depthwise",
            ConvWeights::Dense(_) if self.is_pointwise() => "conv1x1",
            ConvWeights::Dense(_) => "conv",
        }
    }

    /// Depthwise (one kernel per channel).
    pub fn is_depthwise(&self) -> bool {
        matches!(self.weights, ConvWeights::Depthwise(_))
    }

    /// 1x1, stride 1, no padding: the input tensor is the GEMM's B as it lies.
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sy == 1 && self.sx == 1 && self.pads == [0; 4]
    }

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

    /// Runs the layer, with a fused residual if given. The error is a reason; the graph adds
    /// the layer name.
    pub fn forward(&self, x: &Tensor, res: Option<Residual>, ctx: Ctx, buf: &mut Buffers) -> Result<Tensor, String> {
        x.expect_channels(self.cin)?;
        let (ho, wo) = self.out_size(x.h, x.w).ok_or_else(|| {
            format!(
                "input {:?} is smaller than the {}x{} kernel",
                x.shape(),
                self.kh,
                self.kw
            )
        })?;
        let packed = match &self.weights {
            ConvWeights::Depthwise(w) => {
                let y = super::depthwise::forward(self, w, x, ho, wo, ctx, buf);
                return unfused(y, res, buf);
            }
            ConvWeights::Dense(p) => p,
        };
        // The epilogue takes a residual of exactly the output's shape; anything else (dlib's
        // zero-extending add_pad across a downsampling block) is added afterwards.
        let shape = [self.cout, ho, wo];
        // A sigmoid (not in the epilogue) must come before the residual, so it is never fused.
        let (fused, after) = match res {
            Some(r) if r.other.shape() == shape && self.act != Activation::Sigmoid => (Some(r), None),
            r => (None, r),
        };
        let y = if self.is_pointwise() {
            let n = ho * wo;
            let mut data = buf.take(self.cout * n);
            let t = threads_for(self.cout * self.cin * n, ctx.threads);
            gemm(ctx.isa, packed, &x.data, n, n, &mut data, n, &self.epilogue(fused), t)?;
            Tensor {
                c: self.cout,
                h: ho,
                w: wo,
                data,
            }
        } else {
            self.forward_im2col(packed, x, ho, wo, fused, ctx, buf)?
        };
        let mut y = y;
        if self.act == Activation::Sigmoid {
            // Not in the GEMM's epilogue (only CenterFace's 1-channel heatmap head has it).
            self.act.apply(&mut y.data);
        }
        unfused(y, after, buf)
    }

    fn epilogue<'a>(&'a self, res: Option<Residual<'a>>) -> Epilogue<'a> {
        Epilogue {
            bias: &self.bias,
            relu: self.act == Activation::Relu,
            residual: res.map(|r| &r.other.data[..]),
            relu2: res.is_some_and(|r| r.act == Activation::Relu),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_im2col(
        &self,
        packed: &PackedA,
        x: &Tensor,
        ho: usize,
        wo: usize,
        res: Option<Residual>,
        ctx: Ctx,
        buf: &mut Buffers,
    ) -> Result<Tensor, String> {
        let k = self.cin * self.kh * self.kw;
        let plane = ho * wo;
        let band = (BAND_FLOATS / (k * wo).max(1)).clamp(1, ho.max(1));
        let mut out = buf.take(self.cout * plane);
        let mut cols = buf.take(k * band * wo);
        let mut failed = None;
        for y0 in (0..ho).step_by(band) {
            let rows = band.min(ho - y0);
            let nb = rows * wo;
            let cols = &mut cols[..k * nb];
            par_chunks_mut(cols, nb, threads_for(k * nb * 4, ctx.threads), |r0, chunk| {
                for (r, dst) in chunk.chunks_mut(nb).enumerate() {
                    self.im2col_row(x, r0 + r, y0, rows, wo, dst);
                }
            });
            // Output rows y0.. of every channel: offset y0*wo, channels `plane` apart.
            let at = y0 * wo;
            let mut ep = self.epilogue(res);
            ep.residual = ep.residual.map(|r| &r[at..]);
            let t = threads_for(self.cout * k * nb, ctx.threads);
            if let Err(e) = gemm(ctx.isa, packed, cols, nb, nb, &mut out[at..], plane, &ep, t) {
                failed = Some(e);
                break;
            }
        }
        buf.give(cols);
        if let Some(e) = failed {
            buf.give(out);
            return Err(e);
        }
        Ok(Tensor {
            c: self.cout,
            h: ho,
            w: wo,
            data: out,
        })
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

/// The residual step the epilogue did not take: `act(y + other)` as a separate pass.
fn unfused(y: Tensor, res: Option<Residual>, buf: &mut Buffers) -> Result<Tensor, String> {
    let Some(r) = res else {
        return Ok(y);
    };
    let mut sum = if r.pad {
        elementwise::add_pad(&y, r.other, buf)
    } else {
        elementwise::add(&y, r.other, buf)?
    };
    buf.give(y.data);
    r.act.apply(&mut sum.data);
    Ok(sum)
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
