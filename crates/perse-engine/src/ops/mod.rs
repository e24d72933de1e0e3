//! The layer operations, on batch-1 CHW [`Tensor`](crate::tensor::Tensor)s.
//!
//! Parallelism is optional and explicit: ops take a `threads` count and split their output
//! into disjoint chunks (channels or GEMM rows) run under `std::thread::scope`. There is no
//! global pool, so an embedding process (the Node addon, the local server) keeps full
//! control over how many cores inference takes. Small ops stay single-threaded because a
//! thread spawn (~20 µs) would cost more than it saves.

pub(crate) mod block;
pub(crate) mod buffers;
pub(crate) mod conv;
pub(crate) mod depthwise;
pub(crate) mod elementwise;
pub(crate) mod gemm;
pub(crate) mod layer;
pub(crate) mod pool;
pub(crate) mod simd;
pub(crate) mod transpose;

use simd::Isa;

/// How an op may run: its thread budget and the kernel set of the model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub threads: usize,
    pub isa: Isa,
}

/// Multiply-accumulates below which an op does not spawn threads (8 M, about 0.2 ms of one
/// core). Measured, CenterFace on a 150 px chip with 2 threads, alternating builds: with 1 M
/// 5.5-5.9 ms (slower than 1 thread: most of its ops are a few M, and each paid for its
/// spawns), with 8 M 4.7-5.1 ms; at 800 px unchanged (52.9-59.6 against 52.9-59.9 ms).
pub(crate) const PAR_MIN_WORK: usize = 1 << 23;

/// Activation fused into (applied to the result of) a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    Sigmoid,
}

impl Activation {
    /// Parses the graph's `activation` field (absent = none).
    pub(crate) fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("none") => Some(Activation::None),
            Some("relu") => Some(Activation::Relu),
            Some("sigmoid") => Some(Activation::Sigmoid),
            Some(_) => None,
        }
    }

    /// Applies the activation in place.
    pub(crate) fn apply(self, xs: &mut [f32]) {
        match self {
            Activation::None => {}
            Activation::Relu => xs.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Sigmoid => xs.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        }
    }
}

/// Thread count worth using for `work` multiply-accumulates.
pub(crate) fn threads_for(work: usize, threads: usize) -> usize {
    if work < PAR_MIN_WORK {
        1
    } else {
        threads.max(1)
    }
}

/// Splits `data` into at most `threads` contiguous chunks whose lengths are multiples of
/// `unit`, and runs `f(first_unit_index, chunk)` on each, in parallel (the last chunk on
/// the calling thread). With one thread or one unit, `f` runs once on everything.
pub(crate) fn par_chunks_mut<F>(data: &mut [f32], unit: usize, threads: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let units = data.len().checked_div(unit).unwrap_or(0);
    if threads <= 1 || units < 2 {
        f(0, data);
        return;
    }
    let per = units.div_ceil(threads.min(units));
    let f = &f;
    std::thread::scope(|s| {
        let mut rest = data;
        let mut first = 0;
        while !rest.is_empty() {
            let take = (per * unit).min(rest.len());
            let (chunk, tail) = rest.split_at_mut(take);
            rest = tail;
            let at = first;
            if rest.is_empty() {
                f(at, chunk);
            } else {
                s.spawn(move || f(at, chunk));
            }
            first += per;
        }
    });
}
