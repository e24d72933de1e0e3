//! `C = act2(act(A·B + bias) + residual)`: the one matrix product every conv runs on, with
//! the weights packed once at load time and the activations read where they lie.
//!
//! In a conv, A is the weight matrix (`cout x k`) and B the activations (`k x pixels`, one
//! channel per row: a CHW tensor already is that matrix for a 1x1 conv). A general GEMM
//! (the `matrixmultiply` crate before) packs both operands on every call; on CenterFace that
//! packing was 22 % of the run, because most layers have few rows (`cout` 16–96) or a short
//! `k`, so packing B costs as much as multiplying it. Here:
//! - A is packed once, when the graph is built ([`PackedA`]): panels of [`MR`] rows,
//!   interleaved by `k`, so a kernel reads its A values in order;
//! - B is not packed: the kernel loads each row segment where it lies, through a table of
//!   row offsets ([`BRows`]): a tensor's channels for a 1x1 conv, or for other convs the
//!   taps' shifted views of the zero-padded input (`conv.rs`), so no im2col copy is made.
//!   Only a ragged last column tile may be copied, zero-padded, into a small buffer;
//! - the epilogue (bias, activation, a residual add with its own activation) runs on the
//!   accumulators before the single store, so no layer takes a second pass over its output.
//!
//! Loop order: blocks of columns outer (their B stays in L2), row panels next, column tiles
//! of `NR` inner, so each panel writes its rows of C in order. Threads take disjoint ranges
//! of column tiles.
//!
//! Kernels (`MR x NR` accumulators in registers): AVX-512 6x32 (12 zmm, A broadcast from
//! memory inside the FMA), AVX2+FMA 6x16 (12 ymm), NEON 6x16 (24 q-registers), portable 6x8 (what the compiler vectorises with SSE2 or the target's
//! baseline). The choice is the model's [`Isa`].

pub(crate) use super::packed::PackedA;
use super::packed::{PanelBuf, MR};
use super::simd::{Isa, MulAdd, Separate};
use super::SharedOut;

/// The widest tile any kernel uses (the size of the local buffers for ragged tiles).
const MAX_NR: usize = 32;
/// Products with at most this many columns take the narrow path ([`narrow`]).
const NARROW_N: usize = 4;
/// Products with at most this many columns use the AVX2 kernel on AVX-512 machines: its
/// 16-column tile wastes less of a narrow product than the 32-column one.
const AVX2_TILE_N: usize = 16;
/// Floats of B per column block (256 KB: a block stays in L2 while all panels use it).
const B_BLOCK_FLOATS: usize = 1 << 16;
/// Row panels from which a product copies its B into tiles first ([`pack_b`]).
const PACK_MIN_PANELS: usize = 2;
/// Column tiles per thread below which a product stays on one thread.
const MIN_TILES_PER_THREAD: usize = 4;
/// Row panels each thread takes at least when a product's threads split its rows.
const MIN_PANELS_PER_THREAD: usize = 4;

/// What happens to each accumulated value before it is stored:
/// `v = A·B + bias[row]; if relu {v = max(v, 0)}; if residual {v += res; if relu2 {v = max(v, 0)}}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epilogue<'a> {
    /// One value per row of C (`len >= m`).
    pub bias: &'a [f32],
    pub relu: bool,
    /// Added after the activation; laid out as C (same `ldc`).
    pub residual: Option<&'a [f32]>,
    pub relu2: bool,
}

/// B: row `kk`, column `j` is `data[off[kk] + j]`. A tensor's channels (`off[kk] = kk*ldb`,
/// see [`strided`]), or the taps of a conv read straight from its padded input (`conv.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BRows<'a> {
    pub data: &'a [f32],
    /// One offset per row of B (`k` of them).
    pub off: &'a [usize],
    /// `data` stays readable a whole tile past column `n` of every row, so the last, ragged
    /// tile is read in place (its extra columns are computed and dropped) instead of copied.
    pub slack: bool,
}

/// Row offsets of a B whose rows are `ldb` apart.
pub(crate) fn strided(k: usize, ldb: usize) -> Vec<usize> {
    (0..k).map(|kk| kk * ldb).collect()
}

/// Where column `j` of C is stored within its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cols {
    /// At `j`.
    Plain,
    /// Column `j` is pixel `(j / wq, j % wq)` of an image computed `wq` wide (a conv over its
    /// padded input); only pixels with `j % wq < wo` are kept, at `(j / wq) * wo + j % wq`.
    Wide { wq: usize, wo: usize },
}

impl Cols {
    /// The stored position of column `j`, if it is kept.
    #[inline]
    fn at(self, j: usize) -> Option<usize> {
        match self {
            Cols::Plain => Some(j),
            Cols::Wide { wq, wo } => (j % wq < wo).then(|| j / wq * wo + j % wq),
        }
    }

    /// Columns `j..j+w` are all kept, at consecutive positions.
    #[inline]
    fn contiguous(self, j: usize, w: usize) -> bool {
        match self {
            Cols::Plain => true,
            Cols::Wide { wq, wo } => j % wq + w <= wo,
        }
    }

    /// One past the last stored position of columns `0..n` (`n > 0`).
    fn extent(self, n: usize) -> usize {
        match self {
            Cols::Plain => n,
            Cols::Wide { wq, wo } => (n - 1) / wq * wo + ((n - 1) % wq).min(wo - 1) + 1,
        }
    }
}

/// The per-tile arguments a kernel gets (raw, because kernels work on pointers).
struct Tile {
    /// Rows of the tile to store (the last panel of a layer whose rows are not a multiple of
    /// `MR` stores fewer; the others are computed on zero weights and dropped).
    rows: usize,
    bias: [f32; MR],
    relu: bool,
    /// Residual rows (`ldr` apart), or null.
    res: *const f32,
    ldr: usize,
    relu2: bool,
    /// Half-precision weights of the next panel, or null: the kernel asks for them, one
    /// line every few steps, while it computes (see [`PackedA::next_halves`]).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    next_a: *const u8,
    /// The first panel of a column tile: the kernel may prefetch the next tile's B.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    prefetch: bool,
}

/// Checks every operand against the sizes; `c_len` is C's length when it is a slice.
#[allow(clippy::too_many_arguments)] // the GEMM's operands, checked together
fn check(
    isa: Isa,
    a: &PackedA,
    b: &BRows,
    n: usize,
    ldc: usize,
    cols: Cols,
    ep: &Epilogue,
    c_len: Option<usize>,
) -> Result<(), String> {
    let (m, k) = (a.m, a.k);
    let bad = || Err(format!("gemm operands too short for {m}x{k}x{n}"));
    if let Cols::Wide { wq, wo } = cols {
        if wo == 0 || wo > wq {
            return bad();
        }
    }
    let extent = cols.extent(n);
    let read = if b.slack { n.next_multiple_of(nr(isa)) } else { n };
    let b_ok = b.off.len() == k
        && b.off
            .iter()
            .all(|&o| o.checked_add(read).is_some_and(|e| e <= b.data.len()));
    let span = (m - 1) * ldc + extent;
    let r_ok = ep.residual.is_none_or(|r| r.len() >= span);
    let c_ok = c_len.is_none_or(|l| l >= span);
    if b_ok && r_ok && c_ok && ldc >= extent && ep.bias.len() >= m {
        Ok(())
    } else {
        bad()
    }
}

/// Computes C for rows `i < a.m` and columns `j < n` (stored as `cols` says, rows `ldc`
/// apart) from B. Threads split the columns, or the rows when there are too few columns.
/// Errors (not panics) on operands too short for the sizes given.
#[allow(clippy::too_many_arguments)] // a GEMM signature: operands with their layouts, epilogue, threads
pub(crate) fn gemm(
    isa: Isa,
    a: &PackedA,
    b: &BRows,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    cols: Cols,
    ep: &Epilogue,
    threads: usize,
) -> Result<(), String> {
    if a.m == 0 || n == 0 {
        return Ok(());
    }
    let isa_in = isa;
    let isa = kernel_set(isa, n);
    check(isa, a, b, n, ldc, cols, ep, Some(c.len()))?;
    if n <= NARROW_N {
        // SAFETY: `check` bounds every offset `narrow` addresses.
        unsafe {
            narrow(
                isa_for_narrow(isa_in),
                a,
                b,
                n,
                &SharedOut(c.as_mut_ptr()),
                ldc,
                cols,
                ep,
            )
        };
        return Ok(());
    }
    let nr = nr(isa);
    let tiles = n.div_ceil(nr);
    let panels = a.panels();
    let out = SharedOut(c.as_mut_ptr());
    let by_columns = threads.clamp(1, (tiles / MIN_TILES_PER_THREAD).max(1));
    if by_columns < threads && panels >= MIN_PANELS_PER_THREAD * threads {
        // Too few columns to share (a 10x10 or 5x5 output is 4 or 1 tiles of 32): the parts
        // take row panels instead, every column each (measured on a 150 px chip's CenterFace
        // with 2 threads: its 10x10 and 5x5 layers 0.11-0.14 -> 0.07-0.08 ms).
        let per = panels.div_ceil(threads);
        super::team::run(panels.div_ceil(per), &|i| {
            // SAFETY: as below; each part writes its own rows (panels `p0..p1`) of C.
            unsafe {
                columns(
                    isa,
                    a,
                    b,
                    0,
                    n,
                    i * per..((i + 1) * per).min(panels),
                    &out,
                    ldc,
                    cols,
                    ep,
                )
            };
        });
        return Ok(());
    }
    let per = tiles.div_ceil(by_columns) * nr;
    // SAFETY: `check` bounds every offset `columns` addresses (see its doc); each part writes
    // its own column range `j0..j1` of C.
    super::team::run(n.div_ceil(per), &|i| {
        let j0 = i * per;
        unsafe { columns(isa, a, b, j0, (j0 + per).min(n), 0..panels, &out, ldc, cols, ep) };
    });
    Ok(())
}

/// [`gemm`] on the calling thread, into a C given as a pointer: for callers whose threads
/// write disjoint rows of one tensor (the bands of a fused block, `block.rs`), which cannot
/// each hold a `&mut` slice over the interleaved channel planes.
///
/// # Safety
/// `c` addresses `a.m` rows, `ldc` apart, each writable for the columns' extent, that no
/// other thread reads or writes during the call. B, the residual and the bias are checked
/// as in [`gemm`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_into(
    isa: Isa,
    a: &PackedA,
    b: &BRows,
    n: usize,
    c: *mut f32,
    ldc: usize,
    cols: Cols,
    ep: &Epilogue,
) -> Result<(), String> {
    if a.m == 0 || n == 0 {
        return Ok(());
    }
    let isa_in = isa;
    let isa = kernel_set(isa, n);
    check(isa, a, b, n, ldc, cols, ep, None)?;
    if n <= NARROW_N {
        narrow(isa_for_narrow(isa_in), a, b, n, &SharedOut(c), ldc, cols, ep);
    } else {
        columns(isa, a, b, 0, n, 0..a.panels(), &SharedOut(c), ldc, cols, ep);
    }
    Ok(())
}

/// The kernel set for a product `n` columns wide: one this CPU runs, AVX2's narrower tile
/// for narrow products on AVX-512 machines.
fn kernel_set(isa: Isa, n: usize) -> Isa {
    let isa = isa.checked();
    if n <= AVX2_TILE_N {
        isa.without_avx512()
    } else {
        isa
    }
}

/// A product of at most [`NARROW_N`] columns (a conv whose output is a pixel or a few, as
/// the descriptor's last block): per column, each panel's rows accumulate over `k` in
/// registers, instead of a whole `MR x NR` tile computed for 1-4 useful columns (16-32 times
/// the work: 0.73 of the descriptor's 9 ms).
///
/// # Safety
/// As [`columns`] for columns `0..n`.
#[allow(clippy::too_many_arguments)]
unsafe fn narrow(isa: Isa, a: &PackedA, b: &BRows, n: usize, out: &SharedOut, ldc: usize, cols: Cols, ep: &Epilogue) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => narrow_avx512(a, b, n, out, ldc, cols, ep),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => narrow_fma(a, b, n, out, ldc, cols, ep),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => narrow_impl::<super::simd::Fused>(a, b, n, out, ldc, cols, ep),
        _ => narrow_impl::<Separate>(a, b, n, out, ldc, cols, ep),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn narrow_fma(a: &PackedA, b: &BRows, n: usize, out: &SharedOut, ldc: usize, cols: Cols, ep: &Epilogue) {
    narrow_impl::<super::simd::Fused>(a, b, n, out, ldc, cols, ep)
}

/// The kernel set a narrow product runs: the model's own (checked), not the AVX2 fallback
/// that [`kernel_set`] picks for narrow tiles.
fn isa_for_narrow(isa: Isa) -> Isa {
    isa.checked()
}

/// [`narrow`] with AVX-512: a panel's packed values for 8 consecutive `k` are 48 floats
/// (3 vectors), row `g % 6` of step `g / 6` in lane `g`; the column's B values for those
/// steps are spread to match by one permute per vector, so each step of 8 is 3 loads,
/// 3 permutes and 3 FMAs (twice, for 6 independent sums), and the 48 lanes are summed per
/// row at the end. The scalar loop it replaces ran 2.4 GMAC/s on the descriptor's last
/// block (256 x 2304 weights times one pixel: 0.24 ms a layer, onnxruntime 0.02-0.07 ms).
///
/// # Safety
/// As [`narrow`], on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn narrow_avx512(a: &PackedA, b: &BRows, n: usize, out: &SharedOut, ldc: usize, cols: Cols, ep: &Epilogue) {
    use std::arch::x86_64::*;
    const LANES: usize = 8 * MR;
    let k = a.k;
    let idx: [__m512i; LANES / 16] = std::array::from_fn(|c| {
        let v: [i32; 16] = std::array::from_fn(|l| ((16 * c + l) / MR) as i32);
        _mm512_loadu_si512(v.as_ptr().cast())
    });
    let steps = k / 16;
    // Every column's B values first, so that each panel is widened (if f16) once.
    let mut cols_xs: Vec<(usize, Vec<f32>)> = Vec::with_capacity(n);
    for j in 0..n {
        let Some(at) = cols.at(j) else {
            continue;
        };
        let xs: Vec<f32> = (0..k).map(|kk| *b.data.get_unchecked(b.off[kk] + j)).collect();
        cols_xs.push((at, xs));
    }
    let mut buf = PanelBuf::default();
    for p in 0..a.panels() {
        let rows = MR.min(a.m - p * MR);
        let panel = a.panel(p, &mut buf);
        let w = panel.as_ptr();
        for (at, xs) in &cols_xs {
            let at = *at;
            let mut acc = [[_mm512_setzero_ps(); LANES / 16]; 2];
            for q in 0..steps {
                for (h, acc) in acc.iter_mut().enumerate() {
                    let kk = q * 16 + h * 8;
                    let x8 = _mm512_castps256_ps512(_mm256_loadu_ps(xs.as_ptr().add(kk)));
                    for (c, acc) in acc.iter_mut().enumerate() {
                        let xv = _mm512_permutexvar_ps(idx[c], x8);
                        *acc = _mm512_fmadd_ps(_mm512_loadu_ps(w.add(kk * MR + 16 * c)), xv, *acc);
                    }
                }
            }
            let mut lanes = [0.0f32; LANES];
            for (c, v) in lanes.chunks_exact_mut(16).enumerate() {
                _mm512_storeu_ps(v.as_mut_ptr(), _mm512_add_ps(acc[0][c], acc[1][c]));
            }
            let mut sum = [0.0f32; MR];
            for (g, v) in lanes.iter().enumerate() {
                sum[g % MR] += v;
            }
            for (kk, &x) in xs.iter().enumerate().skip(steps * 16) {
                for (r, s) in sum.iter_mut().enumerate() {
                    *s = panel[kk * MR + r].mul_add(x, *s);
                }
            }
            for (i, bias) in ep.bias[p * MR..][..rows].iter().enumerate() {
                let mut v = bias + sum[i];
                if ep.relu {
                    v = v.max(0.0);
                }
                let at = p * MR * ldc + i * ldc + at;
                if let Some(r) = ep.residual {
                    v += r[at];
                    if ep.relu2 {
                        v = v.max(0.0);
                    }
                }
                *out.0.add(at) = v;
            }
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn narrow_impl<M: MulAdd>(
    a: &PackedA,
    b: &BRows,
    n: usize,
    out: &SharedOut,
    ldc: usize,
    cols: Cols,
    ep: &Epilogue,
) {
    let k = a.k;
    let mut buf = PanelBuf::default();
    for p in 0..a.panels() {
        let rows = MR.min(a.m - p * MR);
        let panel = a.panel(p, &mut buf);
        for j in 0..n {
            let Some(at) = cols.at(j) else {
                continue;
            };
            // Four independent sums (k interleaved), so that the FMA latency is hidden.
            let mut acc = [[0.0f32; MR]; 4];
            let (steps, rest) = (k / 4, k % 4);
            for q in 0..steps {
                for (u, acc) in acc.iter_mut().enumerate() {
                    let kk = q * 4 + u;
                    let x = *b.data.get_unchecked(b.off[kk] + j);
                    let w = &panel[kk * MR..][..MR];
                    for r in 0..MR {
                        acc[r] = M::mul_add(w[r], x, acc[r]);
                    }
                }
            }
            for kk in steps * 4..steps * 4 + rest {
                let x = *b.data.get_unchecked(b.off[kk] + j);
                let w = &panel[kk * MR..][..MR];
                for r in 0..MR {
                    acc[0][r] = M::mul_add(w[r], x, acc[0][r]);
                }
            }
            let [a0, a1, a2, a3] = acc;
            for (i, bias) in ep.bias[p * MR..][..rows].iter().enumerate() {
                let mut v = bias + ((a0[i] + a1[i]) + (a2[i] + a3[i]));
                if ep.relu {
                    v = v.max(0.0);
                }
                let at = p * MR * ldc + i * ldc + at;
                if let Some(r) = ep.residual {
                    v += r[at];
                    if ep.relu2 {
                        v = v.max(0.0);
                    }
                }
                *out.0.add(at) = v;
            }
        }
    }
}

/// How many columns a product `n` columns wide computes (whole tiles of the kernel it runs).
pub(crate) fn tile_columns(isa: Isa, n: usize) -> usize {
    if n <= NARROW_N {
        n
    } else {
        n.next_multiple_of(nr(kernel_set(isa, n)))
    }
}

/// Columns per tile of the kernels `isa` runs.
pub(crate) fn nr(isa: Isa) -> usize {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => avx2::NR,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => avx512::NR,
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => neon::NR,
        _ => portable::NR,
    }
}

/// Runs the kernel for `isa` on one `MR x nr` tile.
///
/// # Safety
/// `a` holds `k*MR` values; `off` holds `k` offsets and `b + off[kk]` has `nr` readable
/// values for each; `c` rows `0..t.rows` (`ldc` apart) have `nr` writable values; likewise
/// `t.res` (if not null) with `t.ldr`; the CPU supports `isa` (see [`Isa::checked`]).
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    isa: Isa,
    k: usize,
    a: *const f32,
    b: *const f32,
    off: *const usize,
    c: *mut f32,
    ldc: usize,
    t: &Tile,
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => avx2::kernel(k, a, b, off, c, ldc, t),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => avx512::kernel(k, a, b, off, c, ldc, t),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => neon::kernel(k, a, b, off, c, ldc, t),
        _ => portable::kernel(k, a, b, off, c, ldc, t),
    }
}

/// Columns `j0..j1` of C's row panels `panels` (`MR` rows each), in blocks of columns whose
/// B (`k x block`) stays in L2 while every row panel runs over it. Within a block, panels
/// are the outer loop: each writes its `MR` rows of C left to right (a few sequential store streams, instead of one per row of C
/// when tiles are the outer loop, which made a 96-row layer write-miss on every store).
///
/// # Safety
/// The operands passed `check` for these sizes; `out` points at C (or is C's slice), and
/// no other thread writes columns `j0..j1` of those panels' rows; `isa` is supported
/// (checked by the caller).
#[allow(clippy::too_many_arguments)]
unsafe fn columns(
    isa: Isa,
    a: &PackedA,
    b: &BRows,
    j0: usize,
    j1: usize,
    panels: std::ops::Range<usize>,
    out: &SharedOut,
    ldc: usize,
    cols: Cols,
    ep: &Epilogue,
) {
    let (m, k) = (a.m, a.k);
    let nr = nr(isa);
    let block = (B_BLOCK_FLOATS / k.max(1)).max(4 * nr) / nr * nr;
    let mut ragged_b: Vec<f32> = Vec::new();
    let ragged_off = strided(k, nr);
    let mut local_c = [0.0f32; MR * MAX_NR];
    let mut local_r = [0.0f32; MR * MAX_NR];
    let mut buf = PanelBuf::default();
    // Half-precision weights used by more than one block of columns are widened once, all
    // of them (the descriptor's 32- and 64-channel layers, 37-147 KB as f32); others panel
    // by panel (per block: widening each panel for each of 6 blocks was 9 % of a chip).
    let mut whole = PanelBuf::default();
    let all = ((j1 - j0).div_ceil(block) > 1).then(|| a.all(&mut whole).as_ptr());
    let pack = packs_b(isa, b, panels.len());
    // This thread's tile buffer, kept between products: allocated per call, its first
    // zero-filling cost as much as the copy (memset and page faults in perf).
    let mut packed_b = if pack { PACKED_B.take() } else { Vec::new() };
    for jb in (j0..j1).step_by(block) {
        let je = (jb + block).min(j1);
        if pack {
            pack_b(b, jb, je, &mut packed_b);
        }
        // The last, narrower tile of C: unless B has slack, a zero-padded copy of its B, so
        // the kernel can read `nr` columns.
        let ragged = (je - jb) % nr;
        if ragged != 0 && !b.slack && !pack {
            ragged_b.clear();
            ragged_b.resize(k * nr, 0.0);
            for (kk, &o) in b.off.iter().enumerate() {
                ragged_b[kk * nr..][..ragged].copy_from_slice(&b.data[o + je - ragged..][..ragged]);
            }
        }
        for p in panels.clone() {
            let rows = MR.min(m - p * MR);
            let mut bias = [0.0; MR];
            bias[..rows].copy_from_slice(&ep.bias[p * MR..][..rows]);
            let panel = match all {
                Some(all) => all.add(p * k * MR),
                None => a.panel(p, &mut buf).as_ptr(),
            };
            let row0 = p * MR * ldc;
            for j in (jb..je).step_by(nr) {
                let w = nr.min(je - j);
                let (bp, off) = if pack {
                    (packed_b.as_ptr().add((j - jb) * k), ragged_off.as_ptr())
                } else if w == nr || b.slack {
                    (b.data.as_ptr().add(j), b.off.as_ptr())
                } else {
                    (ragged_b.as_ptr(), ragged_off.as_ptr())
                };
                let mut t = Tile {
                    rows,
                    bias,
                    relu: ep.relu,
                    res: std::ptr::null(),
                    ldr: ldc,
                    relu2: ep.relu2,
                    next_a: if all.is_none() && j + nr >= je {
                        a.next_halves(p + 1)
                    } else {
                        std::ptr::null()
                    },
                    prefetch: !pack && p == panels.start && j + 2 * nr <= je,
                };
                if w == nr && cols.contiguous(j, nr) {
                    let at = row0 + cols.at(j).unwrap_or(0);
                    t.res = ep.residual.map_or(std::ptr::null(), |r| r.as_ptr().add(at));
                    kernel(isa, k, panel, bp, off, out.0.add(at), ldc, &t);
                    continue;
                }
                // A ragged tile (columns past `n`, or pixels across an image row's end):
                // computed into a local tile, its kept columns stored in runs.
                if let Some(r) = ep.residual {
                    kept_runs(cols, j, w, |col, at, len| {
                        for i in 0..rows {
                            local_r[i * nr + col..][..len].copy_from_slice(&r[row0 + i * ldc + at..][..len]);
                        }
                    });
                    t.res = local_r.as_ptr();
                    t.ldr = nr;
                }
                kernel(isa, k, panel, bp, off, local_c.as_mut_ptr(), nr, &t);
                kept_runs(cols, j, w, |col, at, len| {
                    for i in 0..rows {
                        std::ptr::copy_nonoverlapping(
                            local_c.as_ptr().add(i * nr + col),
                            out.0.add(row0 + i * ldc + at),
                            len,
                        );
                    }
                });
            }
        }
    }
    if pack {
        PACKED_B.set(packed_b);
    }
}

thread_local! {
    /// B copied into tiles by [`pack_b`], per thread (at most `B_BLOCK_FLOATS` rounded up to
    /// whole tiles: 256 KB and a little). Scratch only: nothing is carried from one product
    /// to the next but the allocation.
    static PACKED_B: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Whether [`columns`] copies B into tiles ([`pack_b`]) before the panels run over it: for
/// the AVX2 kernels, when B lies in a tensor's channel planes (no slack: 1x1 convs and the
/// fused blocks' products, whose rows are a plane apart, each tile row on its own page) and
/// more than one panel reads it. Measured on Zen 3 (AVX2, 512 KB L2), CenterFace at 800 px,
/// minimum of 6-8 alternating profiles: 1 thread 119.9 -> 112.9 ms, 2 threads 95.7 -> 85.8
/// ms. The direct convs' B (slack: offsets into small phase planes) gained nothing and lost
/// the copy (the descriptor 10.1 -> 11.1 ms). The AVX-512 kernels read B in place: this
/// machine cannot measure them.
fn packs_b(isa: Isa, b: &BRows, panels: usize) -> bool {
    isa == Isa::Avx2 && !b.slack && panels >= PACK_MIN_PANELS
}

/// Copies columns `jb..je` of B into `dst` in AVX2 tiles ([`AVX2_TILE_N`] columns, the only
/// kernel set that packs, see [`packs_b`]): tile `t`'s `k x 16` values are contiguous
/// (`dst[(t*k + kk)*16 + c] = B[kk][jb + t*16 + c]`). Read in place, each of a tile's `k` rows
/// of B is on its own page (a channel plane apart), for every row panel.
fn pack_b(b: &BRows, jb: usize, je: usize, dst: &mut Vec<f32>) {
    const NR: usize = AVX2_TILE_N;
    let k = b.off.len();
    let n = je - jb;
    let tiles = n.div_ceil(NR);
    // Columns past `je` in the last tile keep whatever the buffer held (zeros or an earlier
    // block's values): each column of C reads only its own column of B, and those columns
    // of C are dropped.
    dst.resize(tiles * k * NR, 0.0);
    for (kk, &o) in b.off.iter().enumerate() {
        let row = &b.data[o + jb..][..n];
        // A constant-length copy is two vector moves; `copy_from_slice` of a run-time length
        // called memmove for every 64 bytes (7 % of a CenterFace run in perf).
        let whole = row.chunks_exact(NR);
        let rest = whole.remainder();
        for (t, src) in whole.enumerate() {
            dst[(t * k + kk) * NR..][..NR].copy_from_slice(&src[..NR]);
        }
        if !rest.is_empty() {
            dst[((tiles - 1) * k + kk) * NR..][..rest.len()].copy_from_slice(rest);
        }
    }
}

/// Calls `f(column within the tile, stored position, length)` for each run of kept columns
/// of `j..j+w`.
#[inline]
fn kept_runs(cols: Cols, j: usize, w: usize, mut f: impl FnMut(usize, usize, usize)) {
    match cols {
        Cols::Plain => f(0, j, w),
        Cols::Wide { wq, wo } => {
            let (mut y, mut x) = (j / wq, j % wq);
            let mut col = 0;
            while col < w {
                let len = (w - col).min(wq - x);
                if x < wo {
                    f(col, y * wo + x, len.min(wo - x));
                }
                col += len;
                (y, x) = (y + 1, 0);
            }
        }
    }
}

/// The portable kernel, 6x8: plain loops over fixed-size arrays, which the compiler keeps in
/// vector registers of the target's baseline.
mod portable {
    use super::{Tile, MR};

    pub const NR: usize = 8;

    /// # Safety
    /// As [`super::kernel`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(k: usize, a: *const f32, b: *const f32, off: *const usize, c: *mut f32, ldc: usize, t: &Tile) {
        let mut acc = [[0.0f32; NR]; MR];
        for (row, bias) in acc.iter_mut().zip(t.bias) {
            *row = [bias; NR];
        }
        for kk in 0..k {
            let bv = &*(b.add(*off.add(kk)) as *const [f32; NR]);
            let av = &*(a.add(kk * MR) as *const [f32; MR]);
            for (row, &x) in acc.iter_mut().zip(av) {
                for (acc, &y) in row.iter_mut().zip(bv) {
                    *acc += x * y;
                }
            }
        }
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            let dst = c.add(i * ldc);
            for (j, &v) in row.iter().enumerate() {
                let mut v = if t.relu { v.max(0.0) } else { v };
                if !t.res.is_null() {
                    v += *t.res.add(i * t.ldr + j);
                    if t.relu2 {
                        v = v.max(0.0);
                    }
                }
                *dst.add(j) = v;
            }
        }
    }
}

/// AVX2+FMA, 6x16: 12 accumulators, 2 loads of B and 6 broadcasts of A per 12 FMAs.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Tile, MR};
    use std::arch::x86_64::*;

    pub const NR: usize = 16;

    /// # Safety
    /// As [`super::kernel`], on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(k: usize, a: *const f32, b: *const f32, off: *const usize, c: *mut f32, ldc: usize, t: &Tile) {
        match (t.prefetch, !t.next_a.is_null()) {
            (true, false) => tile::<true, false>(k, a, b, off, c, ldc, t),
            (false, false) => tile::<false, false>(k, a, b, off, c, ldc, t),
            (true, true) => tile::<true, true>(k, a, b, off, c, ldc, t),
            (false, true) => tile::<false, true>(k, a, b, off, c, ldc, t),
        }
    }

    /// With `PREFETCH`, also asks for the next tile's B (the `NR` columns to the right),
    /// which the first panel of a tile does: B's rows are `ldb` apart, often pages apart,
    /// and too many for the hardware prefetchers to follow.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const PREFETCH: bool, const NEXT_A: bool>(
        k: usize,
        a: *const f32,
        b: *const f32,
        off: *const usize,
        c: *mut f32,
        ldc: usize,
        t: &Tile,
    ) {
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        for (row, &bias) in acc.iter_mut().zip(&t.bias) {
            *row = [_mm256_set1_ps(bias); 2];
        }
        let (mut a, mut off, mut next_a) = (a, off, t.next_a);
        for _ in 0..k {
            let b = b.add(*off);
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            if PREFETCH {
                _mm_prefetch::<_MM_HINT_T0>(b.add(NR) as *const i8);
            }
            if NEXT_A {
                // The next panel's halves, MR of them per step (a line every 5 steps).
                _mm_prefetch::<_MM_HINT_T0>(next_a as *const i8);
                next_a = next_a.add(MR * 2);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a.add(r));
                row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                row[1] = _mm256_fmadd_ps(x, b1, row[1]);
            }
            a = a.add(MR);
            off = off.add(1);
        }
        let zero = _mm256_setzero_ps();
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            for (v, &x) in row.iter().enumerate() {
                let mut x = if t.relu { _mm256_max_ps(x, zero) } else { x };
                if !t.res.is_null() {
                    x = _mm256_add_ps(x, _mm256_loadu_ps(t.res.add(i * t.ldr + v * 8)));
                    if t.relu2 {
                        x = _mm256_max_ps(x, zero);
                    }
                }
                _mm256_storeu_ps(c.add(i * ldc + v * 8), x);
            }
        }
    }
}

/// AVX-512F, 6x32: 12 accumulators, 2 loads of B per 12 FMAs whose A operand is a
/// broadcast from memory.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Tile, MR};
    use std::arch::x86_64::*;

    pub const NR: usize = 32;

    /// # Safety
    /// As [`super::kernel`], on a CPU with AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(k: usize, a: *const f32, b: *const f32, off: *const usize, c: *mut f32, ldc: usize, t: &Tile) {
        match (t.prefetch, !t.next_a.is_null()) {
            (true, false) => tile::<true, false>(k, a, b, off, c, ldc, t),
            (false, false) => tile::<false, false>(k, a, b, off, c, ldc, t),
            (true, true) => tile::<true, true>(k, a, b, off, c, ldc, t),
            (false, true) => tile::<false, true>(k, a, b, off, c, ldc, t),
        }
    }

    /// As the AVX2 kernel's `tile`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const PREFETCH: bool, const NEXT_A: bool>(
        k: usize,
        a: *const f32,
        b: *const f32,
        off: *const usize,
        c: *mut f32,
        ldc: usize,
        t: &Tile,
    ) {
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for (row, &bias) in acc.iter_mut().zip(&t.bias) {
            *row = [_mm512_set1_ps(bias); 2];
        }
        let (mut a, mut off, mut next_a) = (a, off, t.next_a);
        for _ in 0..k {
            let b = b.add(*off);
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            if PREFETCH {
                _mm_prefetch::<_MM_HINT_T0>(b.add(NR) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(b.add(NR + 16) as *const i8);
            }
            if NEXT_A {
                _mm_prefetch::<_MM_HINT_T0>(next_a as *const i8);
                next_a = next_a.add(MR * 2);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(r));
                row[0] = _mm512_fmadd_ps(x, b0, row[0]);
                row[1] = _mm512_fmadd_ps(x, b1, row[1]);
            }
            a = a.add(MR);
            off = off.add(1);
        }
        let zero = _mm512_setzero_ps();
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            for (v, &x) in row.iter().enumerate() {
                let mut x = if t.relu { _mm512_max_ps(x, zero) } else { x };
                if !t.res.is_null() {
                    x = _mm512_add_ps(x, _mm512_loadu_ps(t.res.add(i * t.ldr + v * 16)));
                    if t.relu2 {
                        x = _mm512_max_ps(x, zero);
                    }
                }
                _mm512_storeu_ps(c.add(i * ldc + v * 16), x);
            }
        }
    }
}

/// NEON, 6x16: rows 0-3 take their A values as lanes of one vector, rows 4-5 of a pair.
#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{Tile, MR};
    use std::arch::aarch64::*;

    pub const NR: usize = 16;

    /// # Safety
    /// As [`super::kernel`].
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn kernel(k: usize, a: *const f32, b: *const f32, off: *const usize, c: *mut f32, ldc: usize, t: &Tile) {
        let mut acc = [[vdupq_n_f32(0.0); 4]; MR];
        for (row, &bias) in acc.iter_mut().zip(&t.bias) {
            *row = [vdupq_n_f32(bias); 4];
        }
        let (mut a, mut off) = (a, off);
        for _ in 0..k {
            let b = b.add(*off);
            let bv = [
                vld1q_f32(b),
                vld1q_f32(b.add(4)),
                vld1q_f32(b.add(8)),
                vld1q_f32(b.add(12)),
            ];
            let x = vld1q_f32(a);
            let y = vld1_f32(a.add(4));
            for v in 0..4 {
                acc[0][v] = vfmaq_laneq_f32::<0>(acc[0][v], bv[v], x);
                acc[1][v] = vfmaq_laneq_f32::<1>(acc[1][v], bv[v], x);
                acc[2][v] = vfmaq_laneq_f32::<2>(acc[2][v], bv[v], x);
                acc[3][v] = vfmaq_laneq_f32::<3>(acc[3][v], bv[v], x);
                acc[4][v] = vfmaq_lane_f32::<0>(acc[4][v], bv[v], y);
                acc[5][v] = vfmaq_lane_f32::<1>(acc[5][v], bv[v], y);
            }
            a = a.add(MR);
            off = off.add(1);
        }
        let zero = vdupq_n_f32(0.0);
        for (i, row) in acc.iter().enumerate().take(t.rows) {
            for (v, &x) in row.iter().enumerate() {
                let mut x = if t.relu { vmaxq_f32(x, zero) } else { x };
                if !t.res.is_null() {
                    x = vaddq_f32(x, vld1q_f32(t.res.add(i * t.ldr + v * 4)));
                    if t.relu2 {
                        x = vmaxq_f32(x, zero);
                    }
                }
                vst1q_f32(c.add(i * ldc + v * 4), x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], ldb: usize, ep: &Epilogue, ldc: usize) -> Vec<f32> {
        let mut c = vec![f32::NAN; (m.max(1) - 1) * ldc + n];
        for i in 0..m {
            for j in 0..n {
                let mut v = ep.bias[i] + (0..k).map(|t| a[i * k + t] * b[t * ldb + j]).sum::<f32>();
                if ep.relu {
                    v = v.max(0.0);
                }
                if let Some(r) = ep.residual {
                    v += r[i * ldc + j];
                    if ep.relu2 {
                        v = v.max(0.0);
                    }
                }
                c[i * ldc + j] = v;
            }
        }
        c
    }

    #[test]
    fn every_kernel_matches_the_naive_product() {
        // Ragged rows (m % 4) and columns (n % NR), strided B and C, k = 0, threads.
        for (m, k, n) in [
            (37, 29, 530),
            (4, 3, 24),
            (5, 0, 7),
            (1, 17, 1),
            (13, 50, 3),
            (14, 100, 4),
            (70, 9, 300),
            (8, 64, 200),
            // Several column blocks, the last one ragged (B copied into tiles on AVX2).
            (20, 600, 250),
        ] {
            let (ldb, ldc) = (n + 3, n + 5);
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * ldb).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            let bias: Vec<f32> = (0..m).map(|i| i as f32 - 3.0).collect();
            let res: Vec<f32> = (0..m * ldc).map(|i| ((i * 3) % 7) as f32 - 3.0).collect();
            let packed = PackedA::new(m, k, &a);
            for ep in [
                Epilogue {
                    bias: &bias,
                    relu: false,
                    residual: None,
                    relu2: false,
                },
                Epilogue {
                    bias: &bias,
                    relu: true,
                    residual: Some(&res),
                    relu2: true,
                },
                Epilogue {
                    bias: &bias,
                    relu: false,
                    residual: Some(&res),
                    relu2: false,
                },
            ] {
                let want = naive(m, k, n, &a, &b, ldb, &ep, ldc);
                for isa in Isa::available() {
                    for threads in [1, 2, 3] {
                        let mut c = vec![f32::NAN; want.len()];
                        let rows = BRows {
                            data: &b,
                            off: &strided(k, ldb),
                            slack: false,
                        };
                        gemm(isa, &packed, &rows, n, &mut c, ldc, Cols::Plain, &ep, threads).unwrap();
                        for i in 0..m {
                            for j in 0..n {
                                let (g, w) = (c[i * ldc + j], want[i * ldc + j]);
                                // Small integers: exact in f32 whatever the order or fusion.
                                assert_eq!(g, w, "({i},{j}) of {m}x{k}x{n}, {}, {threads} threads", isa.name());
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wide_columns_keep_only_each_rows_pixels() {
        // 3 image rows computed 7 wide, 5 kept: column j is pixel (j / 7, j % 7).
        let (m, k, wq, wo, h) = (7, 5, 7, 5, 3);
        let n = (h - 1) * wq + wo;
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 3) % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..k * 64).map(|i| ((i * 7) % 9) as f32 - 4.0).collect();
        let off: Vec<usize> = (0..k).map(|kk| kk * 11).collect();
        let bias = vec![1.0; m];
        let res: Vec<f32> = (0..m * h * wo).map(|i| (i % 4) as f32).collect();
        let ep = Epilogue {
            bias: &bias,
            relu: true,
            residual: Some(&res),
            relu2: false,
        };
        for isa in Isa::available() {
            for slack in [false, true] {
                let rows = BRows {
                    data: &b,
                    off: &off,
                    slack,
                };
                let mut c = vec![f32::NAN; m * h * wo];
                let packed = PackedA::new(m, k, &a);
                gemm(isa, &packed, &rows, n, &mut c, h * wo, Cols::Wide { wq, wo }, &ep, 2).unwrap();
                for i in 0..m {
                    for (y, x) in (0..h).flat_map(|y| (0..wo).map(move |x| (y, x))) {
                        let j = y * wq + x;
                        let v = (bias[i] + (0..k).map(|t| a[i * k + t] * b[off[t] + j]).sum::<f32>()).max(0.0);
                        let at = i * h * wo + y * wo + x;
                        assert_eq!(
                            c[at],
                            v + res[at],
                            "{} slack {slack}: row {i}, pixel ({y},{x})",
                            isa.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn short_operands_are_errors() {
        let a = PackedA::new(4, 2, &[1.0; 8]);
        let ep = Epilogue {
            bias: &[0.0; 4],
            relu: false,
            residual: None,
            relu2: false,
        };
        let mut c = vec![0.0; 4 * 5];
        let b = |data: &'static [f32], slack| BRows {
            data,
            off: &[0, 5],
            slack,
        };
        assert!(gemm(Isa::Scalar, &a, &b(&[1.0; 9], false), 5, &mut c, 5, Cols::Plain, &ep, 1).is_err());
        assert!(gemm(
            Isa::Scalar,
            &a,
            &b(&[1.0; 10], false),
            5,
            &mut c[..19],
            5,
            Cols::Plain,
            &ep,
            1
        )
        .is_err());
        assert!(gemm(Isa::Scalar, &a, &b(&[1.0; 10], true), 5, &mut c, 5, Cols::Plain, &ep, 1).is_err());
        assert!(gemm(
            Isa::Scalar,
            &a,
            &b(&[1.0; 10], false),
            5,
            &mut c,
            5,
            Cols::Plain,
            &ep,
            1
        )
        .is_ok());
        let three_offsets = BRows {
            data: &[1.0; 20],
            off: &[0, 5, 10],
            slack: false,
        };
        assert!(gemm(Isa::Scalar, &a, &three_offsets, 5, &mut c, 5, Cols::Plain, &ep, 1).is_err());
    }
}
