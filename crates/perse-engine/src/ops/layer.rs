//! The conv layer's description (shape, padding, weights, fused activation) and its window
//! arithmetic, apart from how it runs: `conv.rs` runs the dense paths and hands depthwise
//! layers to `depthwise.rs`, and both read this, so neither imports the other's module.

use std::sync::{Arc, Mutex};

use super::gemm::PackedA;
use super::qconv::QWeights;
use super::Activation;
use crate::tensor::Tensor;

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
    /// Dense weights without the taps that read only padding, per input size (`conv.rs`).
    pub reduced: TapCache,
}

/// Weights with some taps left out, by which taps are kept (at most a few: a layer sees
/// one or two input sizes), built on first use.
#[derive(Debug, Default)]
pub(crate) struct TapCache(pub Mutex<Vec<(Vec<bool>, Arc<PackedA>)>>);

/// A copy of a layer starts with an empty cache.
impl Clone for TapCache {
    fn clone(&self) -> Self {
        TapCache::default()
    }
}

/// The weights in the layout their path reads.
#[derive(Debug, Clone)]
pub(crate) enum ConvWeights {
    /// `cout x kh*kw` (OIHW with I = 1).
    Depthwise(Vec<f32>),
    /// `cout x cin*kh*kw` (OIHW), packed for the GEMM.
    Dense(PackedA),
    /// The same, as 8-bit integers for `qconv.rs` (the descriptor's 3x3 convs).
    Int8(QWeights),
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
