//! CenterFace face detection: preprocessing, the network, decoding, and the mapping of
//! boxes back into the caller's pixels.
//!
//! Input policy (README "Input"): optionally downscale with Pillow's BOX filter so that the
//! longer side is at most `max_side`, then zero-pad right/bottom to multiples of 32 (no
//! stretching, so no resampling at full resolution), decode against the unpadded size and
//! divide by the downscale factor.
//!
//! Cost grows with the working size: ~180–200 bytes of peak memory per working pixel (the
//! 96-channel expansion at half resolution dominates) and ~0.3 µs per pixel on one core, so
//! `max_side` bounds both. `min_face` raises the size only as far as small faces need.

use std::path::Path;

use crate::decode::{decode, RawBox};
use crate::error::{EngineError, Result};
use crate::graph::Graph;
use crate::tensor::Tensor;
use crate::{builder, loader, resize};

/// One detected face, in the input image's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Heatmap value at the face centre, in (threshold, 1].
    pub score: f32,
    /// `[x, y, width, height]`.
    pub bbox: [f32; 4],
    /// `(x, y)` in image order left → right: image-left eye, image-right eye, nose tip,
    /// image-left mouth corner, image-right mouth corner.
    pub landmarks: [[f32; 2]; 5],
}

/// Face width in the network input above which CenterFace finds faces reliably. Measured on
/// a 3x3 mosaic of the Solvay photo (261 faces) at several scales: faces 15.6–21 px wide
/// were found 260/261, 13.7–18.6 px 258/261, 11.7–16 px 231/261, 9.8–13 px 192/261.
pub const MIN_FACE_NETWORK_PX: f32 = 16.0;

/// Detection settings; [`Default`] is the README's choice (threshold 0.5, NMS 0.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    /// Downscale so that the longer side is at most this many pixels (`None`: full size).
    pub max_side: Option<u32>,
    /// Smallest face width (input pixels) that must still be found: raises the working
    /// resolution above `max_side` where needed so that such a face is at least
    /// [`MIN_FACE_NETWORK_PX`] wide in the network input. `None`: `max_side` alone decides.
    pub min_face: Option<f32>,
    /// Minimum heatmap score (strictly greater).
    pub threshold: f32,
    /// NMS IoU at which the weaker box is dropped.
    pub nms_iou: f32,
    /// Threads for this detection (`None`: the model's, see [`CenterFace::with_threads`]): a
    /// server running several detections at once gives each a share of the cores.
    pub threads: Option<usize>,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            max_side: None,
            min_face: None,
            threshold: 0.5,
            nms_iou: 0.3,
            threads: None,
        }
    }
}

impl DetectOptions {
    /// The longer side of the network input (before padding) for an image whose longer side is
    /// `longer`: `max_side`, raised for `min_face`, never above `longer`. What [`CenterFace::detect_with`]
    /// runs at, for callers that budget its memory (it grows with the network input's pixels).
    pub fn network_side(&self, longer: usize) -> usize {
        let mut side = self.max_side.map_or(longer, |m| (m as usize).min(longer));
        if let Some(min_face) = self.min_face.filter(|m| *m > 0.0) {
            let needed = (longer as f32 * MIN_FACE_NETWORK_PX / min_face).ceil();
            side = side.max((needed as usize).min(longer));
        }
        side
    }
}

/// The four raw output maps (stride 4).
#[derive(Debug, Clone)]
pub struct CenterFaceOutputs {
    pub heatmap: Tensor,
    pub scale: Tensor,
    pub offset: Tensor,
    pub landmarks: Tensor,
}

/// The CenterFace network and the number of threads its ops may use.
#[derive(Debug, Clone)]
pub struct CenterFace {
    graph: Graph,
    threads: usize,
}

impl CenterFace {
    /// Loads `centerface.safetensors` (f32 recommended: f16 moves the log-scale head by up to 0.09).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file(loader::load(path.as_ref())?)
    }

    /// Parses a model file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_file(loader::parse(bytes)?)
    }

    fn from_file(file: loader::ModelFile) -> Result<Self> {
        let graph = builder::build(file)?;
        let outs = graph.output_names();
        for name in ["heatmap", "scale", "offset", "landmarks"] {
            if !outs.contains(&name) {
                return Err(EngineError::Graph(format!(
                    "not a CenterFace graph: no `{name}` output"
                )));
            }
        }
        Ok(CenterFace { graph, threads: 1 })
    }

    /// Sets how many threads one inference may use (default 1).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
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

    /// How many threads one inference may use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs the network on a `3 x H x W` RGB tensor of raw 0..255 values, H and W multiples of 32.
    pub fn forward(&self, input: Tensor) -> Result<CenterFaceOutputs> {
        self.forward_with(input, self.threads)
    }

    /// [`forward`](Self::forward) on `threads` threads.
    pub fn forward_with(&self, input: Tensor, threads: usize) -> Result<CenterFaceOutputs> {
        if input.c != 3 || !input.h.is_multiple_of(32) || !input.w.is_multiple_of(32) || input.h == 0 || input.w == 0 {
            return Err(EngineError::Input(format!(
                "CenterFace needs 3 x H x W, multiples of 32; got {:?}",
                input.shape()
            )));
        }
        let mut out = self.graph.run(input, threads.max(1), false)?;
        let mut take = |n: &str| {
            out.remove(n)
                .ok_or_else(|| EngineError::Graph(format!("no `{n}` output")))
        };
        let o = CenterFaceOutputs {
            heatmap: take("heatmap")?,
            scale: take("scale")?,
            offset: take("offset")?,
            landmarks: take("landmarks")?,
        };
        // decode() indexes these maps by the heatmap's size: check once, here.
        let (h, w) = (o.heatmap.h, o.heatmap.w);
        let ok = [(&o.heatmap, 1), (&o.scale, 2), (&o.offset, 2), (&o.landmarks, 10)]
            .iter()
            .all(|(t, c)| t.shape() == [*c, h, w]);
        if !ok {
            return Err(EngineError::Graph("CenterFace outputs have unexpected shapes".into()));
        }
        Ok(o)
    }

    /// Detects faces in an RGB8 image (`width*height*3` bytes, row-major), downscaled to
    /// `max_side` if given, with the default threshold and NMS.
    pub fn detect(&self, rgb: &[u8], width: u32, height: u32, max_side: Option<u32>) -> Result<Vec<Detection>> {
        self.detect_with(
            rgb,
            width,
            height,
            &DetectOptions {
                max_side,
                ..DetectOptions::default()
            },
        )
    }

    /// [`detect`](Self::detect) with explicit options.
    pub fn detect_with(&self, rgb: &[u8], width: u32, height: u32, opts: &DetectOptions) -> Result<Vec<Detection>> {
        let (w0, h0) = (width as usize, height as usize);
        if w0 == 0 || h0 == 0 || w0.checked_mul(h0).and_then(|p| p.checked_mul(3)) != Some(rgb.len()) {
            return Err(EngineError::Input(format!(
                "{} bytes is not a {width}x{height} RGB8 image",
                rgb.len()
            )));
        }
        let longer = w0.max(h0);
        let resized;
        if opts.max_side == Some(0) {
            return Err(EngineError::Input("max_side must be > 0".into()));
        }
        let side = opts.network_side(longer);
        let (img, w, h) = match side {
            m if m < longer => {
                let s = m as f64 / longer as f64;
                // Python's round() (ties to even), as in the reference.
                let w = ((w0 as f64 * s).round_ties_even() as usize).max(1);
                let h = ((h0 as f64 * s).round_ties_even() as usize).max(1);
                resized = resize::resize_box(rgb, w0, h0, w, h);
                (&resized[..], w, h)
            }
            _ => (rgb, w0, h0),
        };
        let out = self.forward_with(padded_input(img, w, h), opts.threads.unwrap_or(self.threads))?;
        let boxes = decode(
            &out.heatmap,
            &out.scale,
            &out.offset,
            &out.landmarks,
            (h, w),
            opts.threshold,
            opts.nms_iou,
        );
        let (sx, sy) = (w as f32 / w0 as f32, h as f32 / h0 as f32);
        Ok(boxes.iter().map(|b| to_detection(b, sx, sy)).collect())
    }
}

/// HWC RGB8 → CHW f32, zero-padded right and bottom to multiples of 32.
pub fn padded_input(rgb: &[u8], w: usize, h: usize) -> Tensor {
    let (hp, wp) = (h.div_ceil(32) * 32, w.div_ceil(32) * 32);
    let mut t = Tensor::zeros(3, hp, wp);
    let plane = hp * wp;
    for y in 0..h {
        let row = &rgb[y * w * 3..][..w * 3];
        for (x, px) in row.chunks_exact(3).enumerate() {
            for (c, v) in px.iter().enumerate() {
                t.data[c * plane + y * wp + x] = f32::from(*v);
            }
        }
    }
    t
}

fn to_detection(b: &RawBox, sx: f32, sy: f32) -> Detection {
    let (x1, y1, x2, y2) = (b.x1 / sx, b.y1 / sy, b.x2 / sx, b.y2 / sy);
    Detection {
        score: b.score,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        landmarks: b.landmarks.map(|[x, y]| [x / sx, y / sy]),
    }
}
