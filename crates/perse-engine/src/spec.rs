//! The `graph` metadata document, as written by `engine/fetch_models.py`.
//!
//! Only the fields the runner needs are declared; the rest (`onnx_outputs`, `dlib_layers`,
//! `weight_layout`, ...) are there for humans and are ignored. Optional fields are checked
//! per op when the graph is built (`graph.rs`), with the layer's name in the error.

use serde::Deserialize;
use serde_json::Value;

/// The whole `graph` document.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphSpec {
    /// Input description; the descriptor reads `mean_rgb` from it.
    #[serde(default)]
    pub input: Value,
    /// Layers, to be run in this order.
    pub layers: Vec<LayerSpec>,
}

/// One layer entry.
#[derive(Debug, Clone, Deserialize)]
pub struct LayerSpec {
    pub op: String,
    pub name: String,
    pub inputs: Vec<String>,
    pub output: String,
    /// `none` | `relu` | `sigmoid`; absent means none (the pooling layers omit it).
    #[serde(default)]
    pub activation: Option<String>,
    #[serde(default)]
    pub weight: Option<String>,
    #[serde(default)]
    pub bias: Option<String>,
    #[serde(default)]
    pub cin: Option<usize>,
    #[serde(default)]
    pub cout: Option<usize>,
    #[serde(default)]
    pub kernel: Option<[usize; 2]>,
    #[serde(default)]
    pub stride: Option<[usize; 2]>,
    /// top, left, bottom, right.
    #[serde(default)]
    pub pads: Option<[usize; 4]>,
    #[serde(default)]
    pub dilation: Option<[usize; 2]>,
    #[serde(default)]
    pub group: Option<usize>,
}

impl GraphSpec {
    /// `input.mean_rgb` as three floats, if present (the descriptor's input normalisation).
    pub fn mean_rgb(&self) -> Option<[f32; 3]> {
        let v = self.input.get("mean_rgb")?.as_array()?;
        match v.as_slice() {
            [r, g, b] => Some([r.as_f64()? as f32, g.as_f64()? as f32, b.as_f64()? as f32]),
            _ => None,
        }
    }
}
