//! A MobileNetV2 inverted residual run as one op: [expand 1x1] → depthwise 3x3 → project
//! 1x1 [→ + residual], in bands of output rows.
//!
//! Run layer by layer, the block's middle tensor is 6x wider than its input and output: on
//! CenterFace at 800 px the first block's is 96 x 288 x 400 floats (44 MB), written by the
//! expand conv, read back by the depthwise conv, whose output the projection reads again.
//! That traffic, and the page faults of allocating such buffers, made the first expand conv
//! alone 29 ms of a 166 ms run. Here a band of output rows at a time is computed from the
//! few expanded rows it needs (kept in a buffer sized to stay in cache, the overlap with
//! the previous band reused), so the wide tensor never exists and the block reads its input and
//! writes its output once. Threads take disjoint ranges of output rows, each with its own
//! buffers.
//!
//! The arithmetic is the layers' own (the same GEMM kernels and epilogues, the same
//! depthwise rows), so results equal the unfused run's.

use super::buffers::Buffers;
use super::conv::{Conv, ConvWeights, Residual};
use super::depthwise::{self, Rows};
use super::gemm::{gemm_into, strided, BRows, Cols, Epilogue, PackedA};
use super::simd::Isa;
use super::{threads_for, Activation, Ctx};
use crate::tensor::Tensor;

/// Expanded floats a band may hold (2 MB). Measured on CenterFace at 800 px: 640 KB bands
/// (within a 1 MB L2) gave 87 ms, 2 MB bands 80.5 ms. Smaller bands mean narrower GEMMs
/// (a band of one output row of a 25-pixel-wide layer is a 25-column product), and the
/// expanded rows are written once and read once, which L3 serves well enough.
const BAND_FLOATS: usize = 512 * 1024;
/// Below this many expanded floats (1 MB) the layers run one by one: the whole middle tensor
/// stays in L2 anyway, and the bands' per-call overheads would only add time.
const MIN_FUSED_FLOATS: usize = 256 * 1024;

/// The layers of one block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Block<'a> {
    pub expand: Option<&'a Conv>,
    pub dw: &'a Conv,
    pub project: &'a Conv,
}

/// Everything one band loop needs, shared by the threads.
struct Plan<'a> {
    isa: Isa,
    x: &'a Tensor,
    expand: Option<(&'a PackedA, Epilogue<'a>)>,
    dw: &'a Conv,
    dw_weight: &'a [f32],
    project: &'a PackedA,
    project_ep: Epilogue<'a>,
    ce: usize,
    ho: usize,
    wo: usize,
    band: usize,
}

/// Output pointer shared by the band threads; each writes only its own rows of every channel.
struct SharedOut(*mut f32);
// SAFETY: the threads write disjoint row ranges through it, and `team::run` returns only
// when all of them are done, before the output tensor is used.
unsafe impl Sync for SharedOut {}

fn epilogue<'a>(c: &'a Conv, res: Option<&Residual<'a>>) -> Epilogue<'a> {
    Epilogue {
        bias: &c.bias,
        relu: c.act == Activation::Relu,
        residual: res.map(|r| &r.other.data[..]),
        relu2: res.is_some_and(|r| r.act == Activation::Relu),
    }
}

impl Block<'_> {
    /// Runs the block, or returns `Ok(None)` when it is better (small) or only possible
    /// (shapes the fused path does not take) to run its layers one by one.
    pub fn forward(
        &self,
        x: &Tensor,
        res: Option<Residual>,
        ctx: Ctx,
        buf: &mut Buffers,
    ) -> Result<Option<Tensor>, String> {
        let (h, w) = (x.h, x.w);
        let ce = self.dw.cin;
        let ConvWeights::Depthwise(dw_weight) = &self.dw.weights else {
            return Ok(None);
        };
        let ConvWeights::Dense(project) = &self.project.weights else {
            return Ok(None);
        };
        let expand = match self.expand {
            Some(e) => match &e.weights {
                ConvWeights::Dense(p) if e.cout == ce && x.c == e.cin => Some((p, epilogue(e, None))),
                _ => return Ok(None),
            },
            None if x.c == ce => None,
            None => return Ok(None),
        };
        let Some((ho, wo)) = self.dw.out_size(h, w) else {
            return Ok(None);
        };
        let cout = self.project.cout;
        let shape_ok = res.is_none_or(|r| r.other.shape() == [cout, ho, wo]);
        let small = ce * h * w < MIN_FUSED_FLOATS;
        if small || !shape_ok || !depthwise::is_3x3(self.dw, w) || self.project.cin != ce || ho == 0 {
            return Ok(None);
        }
        let s = self.dw.sy;
        let macs = ho * wo * ce * (9 + cout) + self.expand.map_or(0, |e| h * w * ce * e.cin);
        let threads = threads_for(macs, ctx.threads).min(ho);
        // Output rows per band: the expanded rows they need (band*s + 2) fit BAND_FLOATS, and
        // every thread gets a band. A deep block (960 x 18 x 25 on CenterFace at 800 px) fits
        // one band, which left the second core idle for its 5 ms; split in two, each thread
        // also expands the two rows at the seam (measured: 5.2 -> 2.9 ms with 2 threads).
        let band = ((BAND_FLOATS / (ce * w)).saturating_sub(2) / s)
            .clamp(1, ho)
            .min(ho.div_ceil(threads));
        let plan = Plan {
            isa: ctx.isa,
            x,
            expand,
            dw: self.dw,
            dw_weight,
            project,
            project_ep: epilogue(self.project, res.as_ref()),
            ce,
            ho,
            wo,
            band,
        };
        let mut data = buf.take(cout * ho * wo);
        let threads = threads.min(ho.div_ceil(band));
        let out = SharedOut(data.as_mut_ptr());
        let per = ho.div_ceil(threads);
        // Each thread's scratch (expanded rows, depthwise output) from the recycled buffers:
        // allocated per call, those 2 MB mappings were faulted in page by page on every run.
        let mut parts: Vec<(Scratch, Result<(), String>)> =
            (0..ho.div_ceil(per)).map(|_| (plan.scratch(buf), Ok(()))).collect();
        super::team::run_each(&mut parts, &|i, (sc_buf, result)| {
            let oy0 = i * per;
            // SAFETY: `data` holds cout*ho*wo floats; each part writes rows `oy0..oy1` of
            // every channel, disjoint from the others' (see `bands`).
            *result = unsafe { plan.bands(oy0, (oy0 + per).min(ho), &out, sc_buf) };
        });
        let mut result = Ok(());
        for (s, r) in parts {
            buf.give(s.expanded);
            buf.give(s.dw_out);
            result = result.and(r);
        }
        match result {
            Ok(()) => Ok(Some(Tensor {
                c: cout,
                h: ho,
                w: wo,
                data,
            })),
            Err(e) => {
                buf.give(data);
                Err(e)
            }
        }
    }
}

/// One band thread's working space.
struct Scratch {
    expanded: Vec<f32>,
    dw_out: Vec<f32>,
}

impl Plan<'_> {
    /// Working space for one thread of [`bands`](Self::bands) (stale values: `bands` writes
    /// every value before reading it).
    fn scratch(&self, buf: &mut Buffers) -> Scratch {
        let rows_cap = self.band * self.dw.sy + 2;
        let w = self.x.w;
        Scratch {
            expanded: buf.take(if self.expand.is_some() {
                self.ce * rows_cap * w
            } else {
                0
            }),
            dw_out: buf.take(self.ce * self.band * self.wo),
        }
    }

    /// Output rows `oy0..oy1`, band by band.
    ///
    /// # Safety
    /// `out` points at `project.m * ho * wo` writable floats (channel planes of `ho * wo`),
    /// whose rows `oy0..oy1` no other thread accesses during the call.
    unsafe fn bands(&self, oy0: usize, oy1: usize, out: &SharedOut, scratch: &mut Scratch) -> Result<(), String> {
        let (x, ce, wo, s) = (self.x, self.ce, self.wo, self.dw.sy);
        let (h, w) = (x.h, x.w);
        // Expanded rows this thread holds: image rows held_lo..held_hi, at buffer row 0...
        let rows_cap = self.band * s + 2;
        let Scratch { expanded, dw_out } = scratch;
        let (mut held_lo, mut held_hi) = (0usize, 0usize);
        // The expand conv's B: the input's channel planes.
        let channels = strided(x.c, h * w);
        for b0 in (oy0..oy1).step_by(self.band) {
            let b1 = (b0 + self.band).min(oy1);
            let src = match &self.expand {
                None => Rows::tensor(x),
                Some((packed, ep)) => {
                    // Image rows the depthwise conv reads for output rows b0..b1 (clipped).
                    let need_lo = (b0 * s).saturating_sub(1);
                    let need_hi = ((b1 - 1) * s + 2).min(h);
                    // Keep the rows shared with the previous band: move them to the front.
                    let keep_lo = need_lo.max(held_lo);
                    if held_hi > keep_lo {
                        let (from, len) = ((keep_lo - held_lo) * w, (held_hi - keep_lo) * w);
                        for ch in expanded.chunks_mut(rows_cap * w) {
                            ch.copy_within(from..from + len, 0);
                        }
                        held_lo = keep_lo;
                    } else {
                        (held_lo, held_hi) = (need_lo, need_lo);
                    }
                    if need_hi > held_hi {
                        let rows = need_hi - held_hi;
                        let at = (held_hi - held_lo) * w;
                        let b = BRows {
                            data: &x.data[held_hi * w..],
                            off: &channels,
                            slack: false,
                        };
                        gemm_into(
                            self.isa,
                            packed,
                            &b,
                            rows * w,
                            expanded.as_mut_ptr().add(at),
                            rows_cap * w,
                            Cols::Plain,
                            ep,
                        )?;
                        held_hi = need_hi;
                    }
                    Rows {
                        data: &expanded[..],
                        w,
                        h,
                        ch_stride: rows_cap * w,
                        row0: held_lo,
                        held: held_hi - held_lo,
                    }
                }
            };
            let nb = (b1 - b0) * wo;
            let dw_out = &mut dw_out[..ce * nb];
            depthwise::rows_3x3(self.isa, self.dw, self.dw_weight, &src, 0, ce, b0, b1, wo, dw_out, nb);
            let at = b0 * wo;
            let mut ep = self.project_ep;
            ep.residual = ep.residual.map(|r| &r[at..]);
            let b = BRows {
                data: dw_out,
                off: &strided(ce, nb),
                slack: false,
            };
            gemm_into(
                self.isa,
                self.project,
                &b,
                nb,
                out.0.add(at),
                self.ho * wo,
                Cols::Plain,
                &ep,
            )?;
        }
        Ok(())
    }
}
