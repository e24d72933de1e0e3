//! 2-D convolution (cross-correlation, zero padding), as ONNX `Conv` and dlib `con_`.
//!
//! Three paths, chosen per layer:
//! - 1x1, stride 1, no padding (most of MobileNetV2): the input planes already are the
//!   `cin x (h*w)` matrix B, so the conv is one GEMM ([`gemm`]) reading the tensor in place;
//! - depthwise (`group == cin == cout`): direct loops, see `depthwise.rs`;
//! - everything else: a direct conv through the same GEMM. The input is copied once,
//!   zero-padded, into `stride x stride` phase planes (each input pixel goes to the plane of
//!   its row and column parity; stride 1 is just the padded image). Then every tap `(ci, i,
//!   j)` reads, for consecutive output pixels of a row, consecutive values of one plane: B's
//!   row for that tap is the plane shifted by the tap's offset ([`BRows`]). The output is
//!   computed as if the image were as wide as a plane row (`wq`); the GEMM stores only the
//!   `wo` real pixels of each row ([`Cols::Wide`]). This replaced im2col, whose
//!   `(cin*kh*kw) x pixels` copy (4 MB bands, written out and read back per band) made the
//!   first CenterFace conv twice as slow as onnxruntime's and the descriptor's 7x7 stem
//!   2.6x.
//!
//! Dense weights are packed for the GEMM when the graph is built. The GEMM's epilogue adds
//! the bias, applies a ReLU and, when the graph fused the following residual `add`, adds that
//! input and applies the add's activation, all before the output is first stored.

use std::sync::Arc;

use super::buffers::Buffers;
use super::gemm::{self, gemm, strided, BRows, Cols, Epilogue, PackedA};
use super::layer::valid_range;
pub(crate) use super::layer::{Conv, ConvWeights, Residual, TapCache};
use super::qconv::{self, QWeights};
use super::{elementwise, threads_for, Activation, Ctx};
use crate::tensor::Tensor;

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
            reduced: TapCache::default(),
        }
    }

    /// The path this layer takes, for profiles.
    pub fn kind(&self) -> &'static str {
        match self.weights {
            ConvWeights::Depthwise(_) => "depthwise",
            ConvWeights::Dense(_) if self.is_pointwise() => "conv1x1",
            ConvWeights::Dense(_) => "conv",
            ConvWeights::Int8(_) => "conv-int8",
        }
    }

    /// Runs the layer on 8-bit integers (`qconv.rs`) if it is a dense conv with a window
    /// (not 1x1: those are CenterFace's, which stays f32); returns whether it does.
    pub(crate) fn quantize(&mut self) -> bool {
        if let ConvWeights::Dense(p) = &self.weights {
            if !self.is_pointwise() {
                let q = QWeights::new(self.cout, self.cin, self.kh * self.kw, |co, kk| p.get(co, kk));
                self.weights = ConvWeights::Int8(q);
                self.reduced = TapCache::default();
            }
        }
        matches!(self.weights, ConvWeights::Int8(_))
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
        // The epilogue takes a residual of exactly the output's shape; anything else (dlib's
        // zero-extending add_pad across a downsampling block) is added afterwards.
        let shape = [self.cout, ho, wo];
        // A sigmoid (not in the epilogue) must come before the residual, so it is never fused.
        let (fused, after) = match res {
            Some(r) if r.other.shape() == shape && self.act != Activation::Sigmoid => (Some(r), None),
            r => (None, r),
        };
        let y = match &self.weights {
            ConvWeights::Int8(q) => self.forward_int8(q, x, ho, wo, fused, ctx, buf)?,
            ConvWeights::Dense(packed) if self.is_pointwise() => {
                self.forward_pointwise(packed, x, ho, wo, fused, ctx, buf)?
            }
            ConvWeights::Dense(packed) => self.forward_direct(packed, x, ho, wo, fused, ctx, buf)?,
            ConvWeights::Depthwise(w) => {
                let y = super::depthwise::forward(self, w, x, ho, wo, ctx, buf);
                return unfused(y, res, buf);
            }
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

    /// Which taps (`i*kw + j`) read an input pixel for at least one output pixel of an
    /// `ho x wo` output of an `h x w` input (the window arithmetic the depthwise path uses,
    /// [`valid_range`]); all of them if none does.
    fn live_taps(&self, h: usize, w: usize, ho: usize, wo: usize) -> Vec<bool> {
        let hits = |tap, pad, stride, size, outs| {
            let (lo, hi) = valid_range(tap, pad, stride, size, outs);
            lo < hi
        };
        let rows: Vec<bool> = (0..self.kh).map(|i| hits(i, self.pads[0], self.sy, h, ho)).collect();
        let cols: Vec<bool> = (0..self.kw).map(|j| hits(j, self.pads[1], self.sx, w, wo)).collect();
        let live: Vec<bool> = (0..self.kh * self.kw)
            .map(|t| rows[t / self.kw] && cols[t % self.kw])
            .collect();
        if live.contains(&true) {
            live
        } else {
            vec![true; live.len()]
        }
    }

    /// The dense weights with only the `live` taps of each input channel (cached).
    fn without_taps(&self, packed: &PackedA, live: &[bool]) -> Arc<PackedA> {
        let mut cache = self.reduced.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, a)) = cache.iter().find(|(l, _)| l == live) {
            return a.clone();
        }
        let keep: Vec<usize> = (0..live.len()).filter(|&t| live[t]).collect();
        let k = self.cin * keep.len();
        let mut w = Vec::with_capacity(self.cout * k);
        for co in 0..self.cout {
            for ci in 0..self.cin {
                w.extend(keep.iter().map(|&t| packed.get(co, ci * live.len() + t)));
            }
        }
        let a = Arc::new(PackedA::new(self.cout, k, &w));
        if cache.len() < 4 {
            cache.push((live.to_vec(), a.clone()));
        }
        a
    }

    /// The 1x1 conv: one GEMM over the input tensor as it lies (see the module doc).
    #[allow(clippy::too_many_arguments)]
    fn forward_pointwise(
        &self,
        packed: &PackedA,
        x: &Tensor,
        ho: usize,
        wo: usize,
        res: Option<Residual>,
        ctx: Ctx,
        buf: &mut Buffers,
    ) -> Result<Tensor, String> {
        let n = ho * wo;
        let mut data = buf.take(self.cout * n);
        let t = threads_for(self.cout * self.cin * n, ctx.threads);
        let b = BRows {
            data: &x.data,
            off: &strided(self.cin, n),
            slack: false,
        };
        if let Err(e) = gemm(
            ctx.isa,
            packed,
            &b,
            n,
            &mut data,
            n,
            Cols::Plain,
            &self.epilogue(res),
            t,
        ) {
            buf.give(data);
            return Err(e);
        }
        Ok(self.output(ho, wo, data))
    }

    /// The layer's `cout x ho x wo` output around `data`.
    fn output(&self, ho: usize, wo: usize, data: Vec<f32>) -> Tensor {
        Tensor {
            c: self.cout,
            h: ho,
            w: wo,
            data,
        }
    }

    /// The conv on 8-bit integers (`qconv.rs`), over the same stride-phase planes.
    #[allow(clippy::too_many_arguments)]
    fn forward_int8(
        &self,
        q: &QWeights,
        x: &Tensor,
        ho: usize,
        wo: usize,
        res: Option<Residual>,
        ctx: Ctx,
        buf: &mut Buffers,
    ) -> Result<Tensor, String> {
        let [pt, pl, pb, pr] = self.pads;
        let geo = qconv::Geometry {
            stride: [self.sy, self.sx],
            pad: [pt, pl],
            kernel: [self.kh, self.kw],
            planes: [(x.h + pt + pb).div_ceil(self.sy), (x.w + pl + pr).div_ceil(self.sx)],
            out: [ho, wo],
            live: self.live_taps(x.h, x.w, ho, wo),
        };
        let t = threads_for(self.cout * self.cin * self.kh * self.kw * ho * wo, ctx.threads);
        let data = qconv::forward(ctx.isa, q, x, &geo, &self.epilogue(res), t, buf)?;
        Ok(self.output(ho, wo, data))
    }

    /// The direct conv over stride-phase planes of the padded input (see the module doc).
    #[allow(clippy::too_many_arguments)]
    fn forward_direct(
        &self,
        packed: &PackedA,
        x: &Tensor,
        ho: usize,
        wo: usize,
        res: Option<Residual>,
        ctx: Ctx,
        buf: &mut Buffers,
    ) -> Result<Tensor, String> {
        let (sy, sx) = (self.sy, self.sx);
        let [pt, pl, pb, pr] = self.pads;
        let (hq, wq) = ((x.h + pt + pb).div_ceil(sy), (x.w + pl + pr).div_ceil(sx));
        let plane = hq * wq;
        // Slack: the last tile of output pixels reads up to a tile past the last plane.
        let mut src = buf.take(self.cin * sy * sx * plane + gemm::nr(ctx.isa.checked()));
        phase_planes(x, [sy, sx], [pt, pl], [hq, wq], &mut src);
        let mut off = Vec::with_capacity(self.cin * self.kh * self.kw);
        for ci in 0..self.cin {
            for i in 0..self.kh {
                for j in 0..self.kw {
                    off.push(((ci * sy + i % sy) * sx + j % sx) * plane + i / sy * wq + j / sx);
                }
            }
        }
        let n = (ho - 1) * wq + wo;
        let mut out = buf.take(self.cout * ho * wo);
        let t = threads_for(self.cout * off.len() * n, ctx.threads);
        let ep = self.epilogue(res);
        let nr = gemm::nr(ctx.isa.checked());
        let live = self.live_taps(x.h, x.w, ho, wo);
        let dead = live.contains(&false);
        let done = if dead || gemm::tile_columns(ctx.isa, n) * 9 > gemm::tile_columns(ctx.isa, ho * wo) * 10 {
            // A small output, where the columns computed for the padding would cost 10 % or
            // more (the descriptor's last blocks: 4x4 pixels computed 6 wide are 22 columns,
            // a 32-wide tile for 16 pixels): gather each tap's real pixels into a compact B
            // instead (k x pixels copies, against k x pixels x cout MACs).
            let np = ho * wo;
            let stride = np.next_multiple_of(nr);
            let pix: Vec<usize> = (0..np).map(|p| p / wo * wq + p % wo).collect();
            // Taps that read padding for every output pixel only add zeros: the product
            // leaves them out (the descriptor's last conv, on a 1x1 input, keeps 1 of its 9
            // taps: 0.15 -> 0.03 ms).
            let reduced = dead.then(|| self.without_taps(packed, &live));
            let rows: Vec<usize> = (0..off.len()).filter(|kk| live[kk % live.len()]).collect();
            let mut compact = buf.take_zeroed(rows.len() * stride + nr);
            for (r, &kk) in rows.iter().enumerate() {
                for (d, &q) in compact[r * stride..][..np].iter_mut().zip(&pix) {
                    *d = src[off[kk] + q];
                }
            }
            let b = BRows {
                data: &compact,
                off: &strided(rows.len(), stride),
                slack: true,
            };
            let packed = reduced.as_deref().unwrap_or(packed);
            let done = gemm(ctx.isa, packed, &b, np, &mut out, np, Cols::Plain, &ep, t);
            buf.give(compact);
            done
        } else {
            let b = BRows {
                data: &src,
                off: &off,
                slack: true,
            };
            gemm(ctx.isa, packed, &b, n, &mut out, ho * wo, Cols::Wide { wq, wo }, &ep, t)
        };
        buf.give(src);
        if let Err(e) = done {
            buf.give(out);
            return Err(e);
        }
        Ok(self.output(ho, wo, out))
    }
}

/// Fills `dst` (stale values) with the zero-padded input split into its `sy x sx` stride
/// phases: plane `(ci, py, px)`, `hq x wq`, holds padded pixel `(qy*sy + py, qx*sx + px)` at
/// `(qy, qx)`; everything else, the tail past the last plane included, is zero. Each value
/// is written once, row by row (a zeroed buffer then a scatter wrote the planes twice: on
/// CenterFace's first conv at 800 px, 12 planes of 289 x 401, that was 1.3-2 ms of its 5.8).
fn phase_planes(x: &Tensor, [sy, sx]: [usize; 2], [pt, pl]: [usize; 2], [hq, wq]: [usize; 2], dst: &mut [f32]) {
    let plane = hq * wq;
    let (used, tail) = dst.split_at_mut(x.c * sy * sx * plane);
    tail.fill(0.0);
    // Phase column px: input columns x0, x0+sx, ... (`count` of them) land at qx = start...
    let cols: Vec<(usize, usize, usize)> = (0..sx)
        .map(|px| {
            let x0 = (px + sx - pl % sx) % sx;
            let count = x.w.saturating_sub(x0).div_ceil(sx);
            let start = ((x0 + pl) / sx).min(wq);
            (x0, start, count.min(wq - start))
        })
        .collect();
    for (i, prow) in used.chunks_exact_mut(wq.max(1)).enumerate() {
        let (qy, rest) = (i % hq, i / hq);
        let (px, py, ci) = (rest % sx, rest / sx % sy, rest / sx / sy);
        // Padded row qy*sy + py is input row y.
        let y = (qy * sy + py).checked_sub(pt).filter(|&y| y < x.h);
        let Some(y) = y else {
            prow.fill(0.0);
            continue;
        };
        let row = &x.channel(ci)[y * x.w..][..x.w];
        let (x0, start, count) = cols[px];
        prow[..start].fill(0.0);
        let data = &mut prow[start..start + count];
        let from = &row[x0..];
        if sx == 1 {
            data.copy_from_slice(&from[..count]);
        } else {
            // Whole groups of `sx` first (a loop the compiler vectorises: step_by did not, and
            // the first conv's 1.4 M values took 1.1 ms), then the last, partial one.
            let whole = (from.len() / sx).min(count);
            for (d, g) in data[..whole].iter_mut().zip(from.chunks_exact(sx)) {
                *d = g[0];
            }
            if whole < count {
                data[whole] = from[whole * sx];
            }
        }
        prow[start + count..].fill(0.0);
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
