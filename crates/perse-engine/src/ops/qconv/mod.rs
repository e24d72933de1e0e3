//! Dense convs on 8-bit integers with exact 32-bit sums: the descriptor's convs.
//!
//! Why: on AVX2, `vpmaddubsw` + `vpmaddwd` multiply and add 32 byte pairs in two instructions
//! where an f32 FMA does 8, and the descriptor's 7x7 and 3x3 convs are nearly all of its
//! multiply-adds. Integer sums are exact in any order, so every kernel set (AVX2, the
//! portable one, whatever comes later) computes the same sums, and the same float epilogue
//! then gives the same bits. What decides is accuracy: with the inputs rounded to 8 bits (per
//! tensor) and the weights to 7 (per output channel, see [`WMAX`]), every face's descriptor
//! stayed at cosine >= 0.9993 of the engine's before issue 27 over the evaluation photos
//! (`engine_outputs` in perse-local; docs/performance.md). CenterFace's boxes did not hold
//! at 8 bits, so it stays f32.
//!
//! The scheme:
//! - weights, once at load: per output channel, symmetric, `q = round(w / s)` with
//!   `s = max|w| / WMAX`, in panels of [`MR`] rows, 4 input channels of one tap per group;
//! - the input, per call: per tensor, `q = round(x / s) + zp` in `0..=255` (`zp` is 0 for
//!   the ReLU outputs the 3x3 convs read; the stem's pixels are signed), written zero-padded
//!   (with `zp`) into the stride phases of [`conv.rs`](super::conv) with 4 channels
//!   interleaved per pixel. So a group's
//!   4 values of 16 consecutive output pixels are 64 consecutive bytes and the product reads
//!   B in place, as the f32 direct conv does (the output is computed as wide as a plane row;
//!   small outputs gather their pixels first);
//! - the product: `acc = Σ qw·qx`, exact in i32 (`|acc| <= k * 255 * WMAX`, under 2^26 for
//!   k = 2304); AVX2's pair sums stay in i16 because `2 * 255 * WMAX = 32640 <= 32767`;
//! - the epilogue, the same float operations on every kernel set:
//!   `y = (acc - zp * Σqw) as f32 * (sx * sw) + bias`, then the activation and the residual
//!   as [`Epilogue`] says.

use super::buffers::Buffers;
use super::gemm::Epilogue;
use super::packed::MR;
use super::simd::Isa;
use super::SharedOut;
use crate::tensor::Tensor;
use input::quantize;

/// Weight levels: `|q| <= WMAX`. 64, not 127, so that AVX2's `vpmaddubsw` never saturates
/// (`2 * 255 * 64 = 32640`). Measured over the evaluation photos: the least descriptor cosine
/// 0.99940 this way; the other way to fit, 8-bit weights with 7-bit inputs, gave 0.99920 in
/// the rounding prototype of docs/performance.md.
pub(crate) const WMAX: i32 = 64;
/// Output pixels per kernel call.
const NR: usize = 16;
/// Bytes of one group (4 values) for one pixel.
const G: usize = 4;
/// B bytes per block of column tiles (see [`Run::part`]): half of a 32 KB L1.
const B_BLOCK_BYTES: usize = 16 << 10;
/// Column tiles per thread below which a product stays on one thread (as the f32 GEMM).
const MIN_TILES_PER_THREAD: usize = 4;
/// Row panels each thread takes at least when the threads split rows instead.
const MIN_PANELS_PER_THREAD: usize = 4;

/// A dense conv's weights as 8-bit integers (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct QWeights {
    m: usize,
    /// Groups of 4 values: `cin.div_ceil(4) * taps`; group `cg * taps + t` holds channels
    /// `4cg..4cg+4` of tap `t`.
    groups: usize,
    taps: usize,
    /// `data[((p * groups + g) * MR + r) * 4 + j]` = row `p*MR + r`, group `g`, value `j`;
    /// rows past `m` and channels past `cin` are zero.
    data: Vec<i8>,
    /// Per row: the weight scale `max|w| / WMAX` (0 for a row of zeros).
    scale: Vec<f32>,
    /// Per row: the sum of its quantised weights (for the input's zero point).
    sums: Vec<i32>,
}

impl QWeights {
    /// Quantises `cout x (cin * taps)` weights, `w(co, ci * taps + t)` (OIHW order).
    pub fn new(cout: usize, cin: usize, taps: usize, w: impl Fn(usize, usize) -> f32) -> Self {
        let groups = cin.div_ceil(G) * taps;
        let panels = cout.div_ceil(MR);
        let mut data = vec![0i8; panels * groups * MR * G];
        let mut scale = vec![0.0f32; panels * MR];
        let mut sums = vec![0i32; panels * MR];
        for co in 0..cout {
            let max = (0..cin * taps).fold(0.0f32, |m, kk| m.max(w(co, kk).abs()));
            let s = max / WMAX as f32;
            scale[co] = s;
            if s == 0.0 || !s.is_finite() {
                scale[co] = 0.0;
                continue;
            }
            let (p, r) = (co / MR, co % MR);
            for ci in 0..cin {
                for t in 0..taps {
                    let q = (w(co, ci * taps + t) / s).round().clamp(-WMAX as f32, WMAX as f32) as i32;
                    let g = ci / G * taps + t;
                    data[((p * groups + g) * MR + r) * G + ci % G] = q as i8;
                    sums[co] += q;
                }
            }
        }
        QWeights {
            m: cout,
            groups,
            taps,
            data,
            scale,
            sums,
        }
    }

    fn panels(&self) -> usize {
        self.m.div_ceil(MR)
    }

    fn panel(&self, p: usize) -> &[i8] {
        &self.data[p * self.groups * MR * G..][..self.groups * MR * G]
    }
}

/// Where column `j` of the product is stored, if it is kept: the product is `wq` pixels
/// wide per output row, of which the first `wo` are real.
#[derive(Debug, Clone, Copy)]
struct Wide {
    wq: usize,
    wo: usize,
}

impl Wide {
    /// The kept columns among `j0..j0 + w` (`w <= NR`), as runs `(first column - j0, stored
    /// position, length)`: one division per tile instead of one per value.
    fn runs(self, j0: usize, w: usize) -> Runs {
        let mut runs = Runs::default();
        let (mut row, mut col) = (j0 / self.wq, j0 % self.wq);
        let mut c = 0;
        while c < w {
            let len = if col < self.wo {
                let len = (self.wo - col).min(w - c);
                runs.list[runs.len] = (c, row * self.wo + col, len);
                runs.len += 1;
                len
            } else {
                (self.wq - col).min(w - c)
            };
            c += len;
            col += len;
            if col == self.wq {
                (row, col) = (row + 1, 0);
            }
        }
        runs
    }
}

/// Up to [`NR`] runs of kept columns (see [`Wide::runs`]).
#[derive(Default)]
struct Runs {
    list: [(usize, usize, usize); NR],
    len: usize,
}

impl Runs {
    fn iter(&self) -> std::slice::Iter<'_, (usize, usize, usize)> {
        self.list[..self.len].iter()
    }
}

/// The conv's geometry, as `conv.rs` has it.
pub(crate) struct Geometry {
    pub stride: [usize; 2],
    /// top, left (bottom and right padding only shape `hq x wq`).
    pub pad: [usize; 2],
    pub kernel: [usize; 2],
    /// The padded input's plane size per stride phase.
    pub planes: [usize; 2],
    pub out: [usize; 2],
    /// Per tap (`i*kw + j`): whether it reads an input pixel for some output pixel.
    pub live: Vec<bool>,
}

/// Runs the conv: `out` (`m x ho*wo`, every value written) = the epilogue of the product.
pub(crate) fn forward(
    isa: Isa,
    q: &QWeights,
    x: &Tensor,
    geo: &Geometry,
    ep: &Epilogue,
    threads: usize,
    buf: &mut Buffers,
) -> Result<Vec<f32>, String> {
    let [sy, sx] = geo.stride;
    let [kh, kw] = geo.kernel;
    let [hq, wq] = geo.planes;
    let [ho, wo] = geo.out;
    if q.taps != kh * kw || q.groups != x.c.div_ceil(G) * q.taps {
        return Err(format!("int8 weights for {} groups, input {:?}", q.groups, x.shape()));
    }
    if ep.bias.len() < q.m || ep.residual.is_some_and(|r| r.len() < q.m * ho * wo) {
        return Err("int8 conv: bias or residual shorter than the output".into());
    }
    let plane = hq * wq;
    // Slack: the last tile reads up to a tile past the last plane.
    let input = quantize(kernel_set(isa), x, geo.stride, geo.pad, geo.planes, NR * G);
    // Per group: where its weights start in a panel, and its B offset. A tap that reads only
    // padding for every output pixel adds `zp * w`, which is 0 when `zp` is (ReLU inputs): it
    // is left out (the descriptor's last convs, on 1x1 inputs, keep 1 of their 9 taps).
    let mut off = Vec::with_capacity(q.groups);
    for cg in 0..x.c.div_ceil(G) {
        for i in 0..kh {
            for j in 0..kw {
                let t = i * kw + j;
                if input.zp == 0 && !geo.live.get(t).copied().unwrap_or(true) {
                    continue;
                }
                let b = (((cg * sy + i % sy) * sx + j % sx) * plane + i / sy * wq + j / sx) * G;
                off.push([(cg * q.taps + t) * MR * G, b]);
            }
        }
    }
    let n = (ho - 1) * wq + wo;
    let np = ho * wo;
    // A small output whose rows' padding would cost 10 % or more of the tiles (the
    // descriptor's 5x5 and 3x3 layers): gather each group's real pixels first, 4 bytes each.
    let compact = n.div_ceil(NR) * 9 > np.div_ceil(NR) * 10;
    let gathered;
    let (b, off, n, wide): (&[u8], Vec<[usize; 2]>, usize, Wide) = if compact {
        let stride = np.next_multiple_of(NR);
        let mut g = vec![0u8; off.len() * stride * G + NR * G];
        for (gi, &[_, o]) in off.iter().enumerate() {
            let dst = &mut g[gi * stride * G..][..np * G];
            for (p, d) in dst.chunks_exact_mut(G).enumerate() {
                let s = o + (p / wo * wq + p % wo) * G;
                d.copy_from_slice(&input.data[s..s + G]);
            }
        }
        gathered = g;
        let off = off
            .iter()
            .enumerate()
            .map(|(gi, &[a, _])| [a, gi * stride * G])
            .collect();
        (&gathered, off, np, Wide { wq: wo, wo })
    } else {
        (&input.data, off, n, Wide { wq, wo })
    };
    // Every B read stays inside `b`: the last group's last tile ends at most NR pixels past n.
    let last = off.iter().map(|o| o[1]).max().unwrap_or(0) + n.next_multiple_of(NR) * G;
    if last > b.len() {
        return Err(format!("int8 conv: B reads to {last} of {}", b.len()));
    }
    if off.iter().any(|o| o[0] + MR * G > q.groups * MR * G) {
        return Err("int8 conv: a group past the weights".into());
    }
    let mut out = buf.take(q.m * np);
    let shared = SharedOut(out.as_mut_ptr());
    let run = Run {
        isa: kernel_set(isa),
        q,
        b,
        off: &off,
        n,
        wide,
        ldc: np,
        out: &shared,
        ep,
        zp: input.zp,
        sx: input.scale,
    };
    let tiles = n.div_ceil(NR);
    let panels = q.panels();
    let by_columns = threads.clamp(1, (tiles / MIN_TILES_PER_THREAD).max(1));
    if by_columns < threads && panels >= MIN_PANELS_PER_THREAD * threads {
        let per = panels.div_ceil(threads);
        super::team::run(panels.div_ceil(per), &|i| {
            run.part(i * per..((i + 1) * per).min(panels), 0..tiles)
        });
    } else {
        let per = tiles.div_ceil(by_columns);
        super::team::run(tiles.div_ceil(per), &|i| {
            run.part(0..panels, i * per..((i + 1) * per).min(tiles))
        });
    }
    Ok(out)
}

/// One conv's product, shared by its parts.
struct Run<'a> {
    isa: Isa,
    q: &'a QWeights,
    b: &'a [u8],
    off: &'a [[usize; 2]],
    n: usize,
    wide: Wide,
    ldc: usize,
    out: &'a SharedOut,
    ep: &'a Epilogue<'a>,
    zp: i32,
    sx: f32,
}

impl Run<'_> {
    /// Row panels `panels` x column tiles `tiles`: the product and the epilogue, stored.
    /// Tiles go in blocks whose B fits in L1 (a tile's B is `groups * 64` bytes, read from
    /// as many places), every panel over a block before the next block.
    fn part(&self, panels: std::ops::Range<usize>, tiles: std::ops::Range<usize>) {
        let per_block = (B_BLOCK_BYTES / (self.off.len() * NR * G).max(1)).max(1);
        let mut t0 = tiles.start;
        while t0 < tiles.end {
            let block = t0..(t0 + per_block).min(tiles.end);
            for p in panels.clone() {
                let a = self.q.panel(p);
                let rows = MR.min(self.q.m - p * MR);
                for t in block.clone() {
                    let mut acc = [[0i32; NR]; MR];
                    tile(self.isa, a, self.b, self.off, t * NR * G, rows, &mut acc);
                    self.store(p, t * NR, &acc);
                }
            }
            t0 = block.end;
        }
    }

    /// The epilogue of one tile (the same float operations for every kernel set).
    fn store(&self, p: usize, j0: usize, acc: &[[i32; NR]; MR]) {
        let ep = self.ep;
        let runs = self.wide.runs(j0, self.n.saturating_sub(j0).min(NR));
        let rows = MR.min(self.q.m - p * MR);
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let co = p * MR + r;
            let corr = self.zp * self.q.sums[co];
            let s = self.sx * self.q.scale[co];
            let bias = ep.bias[co];
            for &(c0, pos, len) in runs.iter() {
                let at = co * self.ldc + pos;
                let res = ep.residual.map(|r| &r[at..at + len]);
                let run = Epi {
                    corr,
                    s,
                    bias,
                    relu: ep.relu,
                    relu2: ep.relu2,
                };
                // SAFETY: `at + len <= m * ldc`, the output's length (`Wide::runs` keeps
                // positions under `ldc`); this part alone writes these columns of row `co`.
                unsafe { run.store(self.isa, &acc[c0..c0 + len], res, self.out.0.add(at)) };
            }
        }
    }
}

/// One row's epilogue: `v = (acc - corr) as f32 * s + bias`, then `relu`, the residual and
/// `relu2`. Every kernel set does exactly these float operations (a ReLU is `v > 0 ? v : 0`,
/// what `vmaxps(v, 0)` does, NaN included), so the same bits.
#[derive(Clone, Copy)]
struct Epi {
    corr: i32,
    s: f32,
    bias: f32,
    relu: bool,
    relu2: bool,
}

impl Epi {
    /// Stores `acc.len()` values at `dst` (`res`, if any, as long).
    ///
    /// # Safety
    /// `dst` is writable for `acc.len()` values; `isa` is a [`kernel_set`].
    unsafe fn store(self, isa: Isa, acc: &[i32], res: Option<&[f32]>, dst: *mut f32) {
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx2 && acc.len() == NR {
            // SAFETY: as this function's; `isa` says AVX2 is there.
            return unsafe { avx2::store(self, acc, res, dst) };
        }
        let _ = isa;
        let relu = |v: f32| if v > 0.0 { v } else { 0.0 };
        for (i, &a) in acc.iter().enumerate() {
            let mut v = (a - self.corr) as f32 * self.s + self.bias;
            if self.relu {
                v = relu(v);
            }
            if let Some(r) = res {
                v += r[i];
                if self.relu2 {
                    v = relu(v);
                }
            }
            // SAFETY: `i < acc.len()`, as the caller promises.
            unsafe { *dst.add(i) = v };
        }
    }
}

/// Whether `isa` has an integer kernel of its own (the portable one is for tests and for
/// models quantised by hand: 5x slower than the portable f32 product).
pub(crate) fn has_kernel(isa: Isa) -> bool {
    kernel_set(isa) == Isa::Avx2
}

/// The kernel set this CPU runs for the product (AVX-512 machines use the AVX2 kernel).
fn kernel_set(isa: Isa) -> Isa {
    isa.checked().without_avx512()
}

/// `acc[r][c] = Σ_g Σ_j a[ag + 4r + j] * b[bg + col + 4c + j]` over the groups' `[ag, bg]`
/// offsets, for one tile.
/// Rows from `rows` on may be left at 0 (a ragged last panel).
fn tile(isa: Isa, a: &[i8], b: &[u8], off: &[[usize; 2]], col: usize, rows: usize, acc: &mut [[i32; NR]; MR]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 {
        // SAFETY: `kernel_set` chose AVX2 only if this CPU has it; `forward` checked that
        // every group's 64 bytes from `col` lie in `b`, and its weights in the panel `a`.
        return unsafe { avx2::tile(a.as_ptr(), b.as_ptr().add(col), off, rows, acc) };
    }
    let _ = (isa, rows);
    for &[ag, bg] in off {
        let (ag, bg) = (&a[ag..][..MR * G], &b[bg + col..][..NR * G]);
        for (acc, ar) in acc.iter_mut().zip(ag.chunks_exact(G)) {
            for (v, bc) in acc.iter_mut().zip(bg.chunks_exact(G)) {
                *v += (0..G).map(|j| ar[j] as i32 * bc[j] as i32).sum::<i32>();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
mod input;

#[cfg(test)]
mod tests;
