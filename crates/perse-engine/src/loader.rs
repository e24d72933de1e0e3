//! Reader for the safetensors-layout model files written by `engine/fetch_models.py`.
//!
//! Layout: `u64 LE` header length N, N bytes of JSON header, then raw little-endian tensor
//! data (F32 or F16). The header maps tensor names to `{dtype, shape, data_offsets}` and
//! holds `__metadata__` (string → string), whose `graph` entry is the layer list.
//!
//! The format is simple enough that a few checked lines replace the `safetensors` crate.
//! Every offset and size is checked with overflow-safe arithmetic, so a truncated or
//! garbage file gives an [`EngineError`], never a panic or a huge allocation.
//! F16 weights are widened to f32 here, once: the ops only know f32.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{EngineError, Result};
use crate::spec::GraphSpec;

/// One weight tensor, already converted to f32.
#[derive(Debug, Clone)]
pub struct TensorData {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A parsed model file: weights, free-form metadata and the layer list.
#[derive(Debug)]
pub struct ModelFile {
    pub tensors: HashMap<String, TensorData>,
    pub metadata: HashMap<String, String>,
    pub graph: GraphSpec,
    /// `F32` or `F16`: what the file stored (informational; weights are f32 in memory).
    pub dtype: String,
}

#[derive(Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// Reads and parses a model file from disk.
pub fn load(path: &Path) -> Result<ModelFile> {
    let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes)
}

/// Parses a model file held in memory (e.g. `include_bytes!` or a test's synthetic file).
pub fn parse(bytes: &[u8]) -> Result<ModelFile> {
    let len_bytes: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(|| {
        EngineError::Truncated(format!("{} bytes, shorter than the 8-byte header length", bytes.len()))
    })?;
    let n = u64::from_le_bytes(len_bytes);
    let rest = &bytes[8..];
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| EngineError::Truncated(format!("header length {n} but only {} bytes follow", rest.len())))?;
    let (header, data) = rest.split_at(n);
    let header: Map<String, Value> =
        serde_json::from_slice(header).map_err(|e| EngineError::Header(format!("not a JSON object: {e}")))?;

    let mut metadata: HashMap<String, String> = HashMap::new();
    let mut tensors = HashMap::new();
    let mut dtypes = Vec::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            metadata = serde_json::from_value(entry)
                .map_err(|e| EngineError::Header(format!("__metadata__ is not a string map: {e}")))?;
            continue;
        }
        let raw: RawEntry =
            serde_json::from_value(entry).map_err(|e| EngineError::tensor(&name, format!("bad header entry: {e}")))?;
        if !dtypes.contains(&raw.dtype) {
            dtypes.push(raw.dtype.clone());
        }
        let t = read_tensor(&name, &raw, data)?;
        tensors.insert(name, t);
    }
    let graph_json = metadata
        .get("graph")
        .ok_or_else(|| EngineError::Graph("no `graph` entry in __metadata__".into()))?;
    let graph: GraphSpec =
        serde_json::from_str(graph_json).map_err(|e| EngineError::Graph(format!("not a valid layer list: {e}")))?;
    let dtype = match dtypes.as_slice() {
        [one] => one.clone(),
        [] => String::new(),
        _ => dtypes.join("+"),
    };
    Ok(ModelFile {
        tensors,
        metadata,
        graph,
        dtype,
    })
}

fn read_tensor(name: &str, raw: &RawEntry, data: &[u8]) -> Result<TensorData> {
    let elem = match raw.dtype.as_str() {
        "F32" => 4,
        "F16" => 2,
        other => {
            return Err(EngineError::tensor(
                name,
                format!("unsupported dtype {other} (F32 or F16 expected)"),
            ))
        }
    };
    let numel = raw
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| EngineError::tensor(name, "shape overflows"))?;
    let [begin, end] = raw.data_offsets;
    if begin > end || end - begin != numel.saturating_mul(elem) {
        return Err(EngineError::tensor(
            name,
            format!(
                "data_offsets {begin}..{end} do not hold shape {:?} of {}",
                raw.shape, raw.dtype
            ),
        ));
    }
    let bytes = data.get(begin..end).ok_or_else(|| {
        EngineError::Truncated(format!(
            "tensor `{name}` ends at data byte {end}, data is {} bytes",
            data.len()
        ))
    })?;
    let values = if elem == 4 {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()
    };
    Ok(TensorData {
        shape: raw.shape.clone(),
        data: values,
    })
}
