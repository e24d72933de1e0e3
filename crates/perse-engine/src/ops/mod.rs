//! The layer operations, on batch-1 CHW [`Tensor`](crate::tensor::Tensor)s.
//!
//! Parallelism is optional and explicit: ops take a `threads` count and split their output
//! into disjoint chunks (channels, GEMM columns, bands of rows) that [`team::run`] runs on
//! the calling thread and the process's helper threads. The embedding process (the Node
//! addon, the local server) still decides how many threads each inference uses; the team
//! only saves the ~20 µs thread spawn per op, so that small ops can be split too.

pub(crate) mod block;
pub(crate) mod buffers;
pub(crate) mod conv;
pub(crate) mod depthwise;
pub(crate) mod elementwise;
pub(crate) mod gemm;
pub(crate) mod layer;
pub(crate) mod packed;
pub(crate) mod pool;
pub(crate) mod qconv;
pub(crate) mod simd;
pub(crate) mod team;
pub(crate) mod transpose;

use simd::Isa;

/// How an op may run: its thread budget and the kernel set of the model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub threads: usize,
    pub isa: Isa,
}

/// Multiply-accumulates below which an op runs on one thread (256 K, about 6 µs of one core:
/// handing a part to a spinning helper costs a microsecond or two). Measured with 2 threads,
/// `examples/bench`, alternating builds: with scoped spawns and 8 M (1 M had made a 150 px
/// chip slower than 1 thread), a chip's CenterFace 5.1-5.5 ms and Solvay at 800 px
/// 60.9-64.4 ms; with the team and 1 M 4.2-4.3 ms; with the team and 256 K 4.1-4.7 ms and
/// 52.2-55.0 ms.
pub(crate) const PAR_MIN_WORK: usize = 1 << 18;

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

/// An output's base pointer, shared by the threads of one product (`gemm`, `qconv`); each
/// writes only its own columns or rows of it.
pub(crate) struct SharedOut(pub *mut f32);
// SAFETY: the threads of a product write disjoint parts of the output through it, and
// `team::run` returns only when all of them are done, before the borrow of the output ends.
unsafe impl Sync for SharedOut {}

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
    let mut chunks: Vec<&mut [f32]> = data.chunks_mut(per * unit).collect();
    team::run_each(&mut chunks, &|i, chunk| f(i * per, chunk));
}
