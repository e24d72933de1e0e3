//! dlib ResNet v1 face descriptor (128 floats) and the calibrated similarity.
//!
//! Input is the 150x150 chip from [`align`](crate::align), normalised as dlib's
//! `input_rgb_image_sized`: `(v - mean[c]) / 256`. The descriptor is not normalised;
//! compare two with the Euclidean [`distance`] and map that to a score with [`similarity`].

use std::path::Path;

use crate::align::{Chip, CHIP_SIZE};
use crate::error::{EngineError, Result};
use crate::graph::Graph;
use crate::tensor::Tensor;
use crate::{builder, loader};

/// Length of a descriptor.
pub const DESCRIPTOR_LEN: usize = 128;

/// The descriptor network, its input mean, and how many chips [`compute_many`] runs at once.
///
/// [`compute_many`]: Descriptor::compute_many
#[derive(Debug, Clone)]
pub struct Descriptor {
    graph: Graph,
    mean: [f32; 3],
    threads: usize,
}

impl Descriptor {
    /// Loads `dlib_resnet_v1.safetensors` (the f16 file is fine: descriptors move by < 7e-4).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file(loader::load(path.as_ref())?)
    }

    /// Parses a model file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_file(loader::parse(bytes)?)
    }

    fn from_file(file: loader::ModelFile) -> Result<Self> {
        let mean = file
            .graph
            .mean_rgb()
            .ok_or_else(|| EngineError::Graph("input.mean_rgb is missing".into()))?;
        let graph = builder::build(file)?;
        if !graph.output_names().contains(&"descriptor") {
            return Err(EngineError::Graph(
                "not a descriptor graph: no `descriptor` output".into(),
            ));
        }
        Ok(Descriptor {
            graph,
            mean,
            threads: 1,
        })
    }

    /// Sets how many chips [`compute_many`](Self::compute_many) describes in parallel
    /// (default 1). A single chip always runs on the calling thread: this network's layers
    /// are ~10 M multiply-adds, and a thread spawn per op made one chip slower on 2 threads
    /// (9.9 ms) than on 1 (8.5 ms).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Runs the convs (the 7x7 stem and the 3x3s, all but 0.02 % of the multiply-adds) on
    /// 8-bit integers with exact sums (`ops/qconv.rs`), if the model's kernel set has an
    /// integer kernel: AVX2 (x86_64 CPUs since Haswell and Zen), where a chip's descriptor
    /// takes about half the time. Descriptors stay within cosine 0.9993 of the f32 network's
    /// over the evaluation photos (docs/performance.md). Elsewhere (NEON, the portable
    /// kernels) the model is left as it is: the portable integer product measured 5x slower
    /// than the portable f32 one. Call it after [`with_isa`](Self::with_isa).
    pub fn with_int8_convs(mut self) -> Self {
        if crate::ops::qconv::has_kernel(self.graph.isa) {
            self.graph.int8_convs();
        }
        self
    }

    /// Uses another kernel set (see [`Isa`](crate::Isa)); for tests and benchmarks.
    pub fn with_isa(mut self, isa: crate::Isa) -> Self {
        self.graph = self.graph.with_isa(isa);
        self
    }

    /// The network, for per-layer profiles ([`Graph::profile`]).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The descriptor of a chip (150x150x3 HWC, 0..255; see [`Chip::rounded`]).
    pub fn compute(&self, chip: &Chip) -> Result<[f32; DESCRIPTOR_LEN]> {
        self.compute_raw(&chip.data)
    }

    /// Descriptors of several chips, spread over the threads (each chip single-threaded):
    /// 2 threads describe 29 chips in 4.8 ms per chip instead of 8.3.
    pub fn compute_many(&self, chips: &[Chip]) -> Result<Vec<[f32; DESCRIPTOR_LEN]>> {
        let t = self.threads.min(chips.len());
        if t <= 1 {
            return chips.iter().map(|c| self.compute(c)).collect();
        }
        let per = chips.len().div_ceil(t);
        std::thread::scope(|s| {
            let parts: Vec<_> = chips
                .chunks(per)
                .map(|part| s.spawn(move || part.iter().map(|c| self.compute(c)).collect::<Result<Vec<_>>>()))
                .collect();
            let mut out = Vec::with_capacity(chips.len());
            for p in parts {
                out.extend(
                    p.join()
                        .map_err(|_| EngineError::Input("a descriptor thread panicked".into()))??,
                );
            }
            Ok(out)
        })
    }

    /// Same as [`compute`](Self::compute) on a bare HWC slice.
    pub fn compute_raw(&self, hwc: &[f32]) -> Result<[f32; DESCRIPTOR_LEN]> {
        let out = self
            .run(hwc, false)?
            .remove("descriptor")
            .ok_or_else(|| EngineError::Graph("no output".into()))?;
        out.data
            .try_into()
            .map_err(|v: Vec<f32>| EngineError::Graph(format!("descriptor has {} values", v.len())))
    }

    /// Runs the graph on the calling thread, optionally keeping every intermediate value
    /// (for per-layer checks).
    pub fn run(&self, hwc: &[f32], keep_all: bool) -> Result<std::collections::HashMap<String, Tensor>> {
        self.graph.run(self.input(hwc)?, 1, keep_all)
    }

    /// The network's input for a chip: CHW, `(v - mean[c]) / 256`.
    pub fn input(&self, hwc: &[f32]) -> Result<Tensor> {
        let n = CHIP_SIZE * CHIP_SIZE;
        if hwc.len() != n * 3 {
            return Err(EngineError::Input(format!(
                "a chip has {} values, got {}",
                n * 3,
                hwc.len()
            )));
        }
        let mut x = Tensor::zeros(3, CHIP_SIZE, CHIP_SIZE);
        for (i, px) in hwc.chunks_exact(3).enumerate() {
            for (c, (v, m)) in px.iter().zip(self.mean).enumerate() {
                x.data[c * n + i] = (v - m) / 256.0;
            }
        }
        Ok(x)
    }
}

/// Euclidean distance between two descriptors.
pub fn distance(a: &[f32; DESCRIPTOR_LEN], b: &[f32; DESCRIPTOR_LEN]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
}

/// Calibrated similarity `1 / (1 + exp(K (d - C)))`: a logistic through (d 0.6 → 0.7), so
/// the API's default threshold 0.7 is dlib's documented same-person distance 0.6, and
/// (d 0.4 → 0.95). K ≈ 10.4857, C ≈ 0.68081, derived from the anchors as in the reference.
pub fn similarity(distance: f32) -> f32 {
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let k = (logit(0.95) - logit(0.7)) / (0.6 - 0.4);
    let c = 0.6 + logit(0.7) / k;
    (1.0 / (1.0 + (k * (f64::from(distance) - c)).exp())) as f32
}
