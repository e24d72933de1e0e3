//! Synthetic model files in the safetensors layout, for tests that must run without weights.
#![allow(dead_code)]

use serde_json::{json, Map, Value};

/// A tensor to put in a synthetic file.
pub struct T<'a> {
    pub name: &'a str,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Serialises tensors (as F32 or F16) and a `graph` document into the file layout.
pub fn file(tensors: &[T], graph: &Value, f16: bool) -> Vec<u8> {
    let mut header = Map::new();
    let mut data = Vec::new();
    for t in tensors {
        let begin = data.len();
        for v in &t.values {
            if f16 {
                data.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes());
            } else {
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
        let dtype = if f16 { "F16" } else { "F32" };
        header.insert(
            t.name.into(),
            json!({"dtype": dtype, "shape": t.shape, "data_offsets": [begin, data.len()]}),
        );
    }
    header.insert(
        "__metadata__".into(),
        json!({"format": "perse-nn/1 (safetensors layout)", "graph": graph.to_string()}),
    );
    raw(&Value::Object(header).to_string(), &data)
}

/// Length prefix + header text + data, with the header space-padded to 8-byte alignment.
pub fn raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

/// Deterministic pseudo-random values in [-1, 1) (a 32-bit LCG; no rand dependency).
pub fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// A conv layer entry of the graph document.
#[allow(clippy::too_many_arguments)]
pub fn conv_layer(
    name: &str,
    input: &str,
    output: &str,
    cin: usize,
    cout: usize,
    k: [usize; 2],
    s: [usize; 2],
    pads: [usize; 4],
    group: usize,
    act: &str,
) -> Value {
    json!({"op": "conv", "name": name, "inputs": [input], "output": output,
           "weight": format!("{name}.weight"), "bias": format!("{name}.bias"),
           "cin": cin, "cout": cout, "kernel": k, "stride": s, "pads": pads,
           "dilation": [1, 1], "group": group, "activation": act})
}
