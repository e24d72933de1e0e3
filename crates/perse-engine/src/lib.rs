//! Pure-Rust inference for the local server's face engine (issue 18).
//!
//! Two fixed networks, converted and verified in Python under `engine/` (see its README
//! for the file format and every op's semantics):
//! - [`CenterFace`]: face boxes with 5 landmarks;
//! - [`Descriptor`]: dlib's ResNet v1 128-float face descriptor on a 150x150 chip cut by
//!   [`align::extract_chip`]; [`similarity`] maps descriptor distance to the API's score.
//!
//! Dependencies are kept to what cross-compiles everywhere the addon ships: `half` for f16
//! weights and `serde_json` for the file header. The kernels are this crate's own (`ops/`):
//! a GEMM over weights packed at load time with bias, activation and residual add fused into
//! its epilogue, row-wise depthwise convs, and MobileNetV2 blocks run as one op in bands of
//! rows so that their 6x-wide middle tensor stays in cache. SIMD is chosen at run time
//! ([`Isa`]: AVX2+FMA on x86_64, NEON on aarch64) with a portable fallback. Threads are
//! opt-in per model (`with_threads`); an op split over threads runs its parts on the calling
//! thread and a small team of helper threads the process starts on first use (one per
//! further core, at most 3; they spin briefly between ops, then park). CenterFace splits its
//! ops over its threads; the descriptor describes several chips at once
//! ([`Descriptor::compute_many`]).
//!
//! ```no_run
//! # fn main() -> perse_engine::Result<()> {
//! use perse_engine::{align, CenterFace, Descriptor};
//! let cf = CenterFace::load("engine/models/centerface.safetensors")?;
//! let ds = Descriptor::load("engine/models/dlib_resnet_v1.f16.safetensors")?;
//! let (rgb, w, h) = (vec![0u8; 640 * 480 * 3], 640, 480);
//! for face in cf.detect(&rgb, w, h, Some(1024))? {
//!     let chip = align::extract_chip(&rgb, w as usize, h as usize, &face.landmarks)?;
//!     let d = ds.compute(&chip.rounded())?;
//!     println!("{:?} {:?}", face.bbox, &d[..4]);
//! }
//! # Ok(()) }
//! ```

pub mod align;
mod builder;
mod centerface;
pub mod decode;
mod descriptor;
mod error;
mod graph;
pub mod loader;
mod ops;
pub mod resize;
pub mod spec;
mod tensor;

pub use centerface::{padded_input, CenterFace, CenterFaceOutputs, DetectOptions, Detection, MIN_FACE_NETWORK_PX};
pub use descriptor::{distance, similarity, Descriptor, DESCRIPTOR_LEN};
pub use error::{EngineError, Result};
pub use graph::{Graph, LayerTime};
pub use ops::simd::Isa;
pub use ops::Activation;
pub use tensor::Tensor;

/// Builds a runnable graph from a parsed model file (for networks other than the two wrappers,
/// and for tests).
pub fn build_graph(file: loader::ModelFile) -> Result<Graph> {
    builder::build(file)
}
