//! Loader and graph-builder tests on tiny synthetic files: they need no weights and always run.
//! Every malformed file must give an `Err`, never a panic.

mod common;

use common::synth::{self, T};
use perse_engine::{build_graph, loader, CenterFace, Descriptor, EngineError, Tensor};
use serde_json::{json, Value};

/// A 2-layer graph: y = relu(conv1x1(x) + b) with 2 -> 1 channels; z = y + y.
fn tiny() -> (Vec<T<'static>>, Value) {
    let tensors = vec![
        T {
            name: "c.weight",
            shape: vec![1, 2, 1, 1],
            values: vec![0.5, -1.0],
        },
        T {
            name: "c.bias",
            shape: vec![1],
            values: vec![0.25],
        },
    ];
    let graph = json!({"input": {"mean_rgb": [1.0, 2.0, 3.0]}, "layers": [
        synth::conv_layer("c", "input", "y", 2, 1, [1, 1], [1, 1], [0; 4], 1, "relu"),
        {"op": "add", "name": "a", "inputs": ["y", "y"], "output": "z", "activation": "none"},
    ]});
    (tensors, graph)
}

fn run_tiny(bytes: &[u8]) -> Vec<f32> {
    let g = build_graph(loader::parse(bytes).expect("parse")).expect("build");
    let x = Tensor::from_vec(2, 1, 3, vec![1.0, 2.0, 3.0, 0.0, 1.0, 1.0]).unwrap();
    let out = g.run(x, 1, false).expect("run");
    assert_eq!(g.output_names(), vec!["z"]);
    out["z"].data.clone()
}

#[test]
fn tiny_file_loads_and_runs_in_f32_and_f16() {
    let (t, g) = tiny();
    // x0 = [1, 2, 3], x1 = [0, 1, 1]: y = relu(0.5*x0 - x1 + 0.25) = [0.75, 0.25, 0.75]; z = 2y.
    let want = vec![1.5, 0.5, 1.5];
    assert_eq!(run_tiny(&synth::file(&t, &g, false)), want);
    assert_eq!(run_tiny(&synth::file(&t, &g, true)), want, "f16 values are exact here");
    let f = loader::parse(&synth::file(&t, &g, true)).unwrap();
    assert_eq!(f.dtype, "F16");
    assert_eq!(f.graph.mean_rgb(), Some([1.0, 2.0, 3.0]));
}

#[test]
fn every_truncation_is_an_error() {
    let (t, g) = tiny();
    let bytes = synth::file(&t, &g, false);
    for n in 0..bytes.len() {
        let r = loader::parse(&bytes[..n]);
        assert!(r.is_err(), "truncated to {n} of {} bytes parsed", bytes.len());
    }
    let e = loader::parse(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(e, EngineError::Truncated(_)), "{e}");
    assert!(CenterFace::from_bytes(&bytes[..20]).is_err());
    assert!(Descriptor::from_bytes(&bytes[..bytes.len() - 3]).is_err());
}

#[test]
fn garbage_and_corrupted_files_are_errors_not_panics() {
    let garbage: Vec<u8> = synth::values(4096, 7).iter().map(|v| (v * 127.0) as i8 as u8).collect();
    assert!(loader::parse(&garbage).is_err());
    assert!(loader::parse(&[]).is_err());
    assert!(loader::parse(&u64::MAX.to_le_bytes()).is_err(), "huge header length");
    assert!(matches!(
        loader::parse(&synth::raw("not json", &[])),
        Err(EngineError::Header(_))
    ));
    assert!(matches!(
        loader::parse(&synth::raw("[1, 2]", &[])),
        Err(EngineError::Header(_))
    ));
    // Flip every byte of the header in turn: whatever it becomes, no panic.
    let (t, g) = tiny();
    let bytes = synth::file(&t, &g, false);
    let hlen = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in 0..8 + hlen {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            if let Ok(f) = loader::parse(&b) {
                let _ = build_graph(f).map(|g| g.run(Tensor::zeros(2, 1, 3), 1, false));
            }
        }
    }
}

#[test]
fn inconsistent_headers_are_reported() {
    let (t, g) = tiny();
    let case = |tensors: &[T], graph: &Value| build_graph(loader::parse(&synth::file(tensors, graph, false))?);
    // Missing graph metadata.
    let bytes = synth::raw(r#"{"__metadata__": {"format": "x"}}"#, &[]);
    assert!(matches!(loader::parse(&bytes), Err(EngineError::Graph(_))));
    // Offsets that do not match the shape; unsupported dtype.
    let bytes = synth::raw(
        r#"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#,
        &[0; 8],
    );
    assert!(matches!(loader::parse(&bytes), Err(EngineError::Tensor { .. })));
    let bytes = synth::raw(
        r#"{"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}"#,
        &[0; 8],
    );
    assert!(matches!(loader::parse(&bytes), Err(EngineError::Tensor { .. })));
    let bytes = synth::raw(
        r#"{"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}}"#,
        &[0; 8],
    );
    assert!(
        matches!(loader::parse(&bytes), Err(EngineError::Tensor { .. })),
        "shape overflow"
    );
    // Weight shape that does not fit the layer.
    let wrong = vec![
        T {
            name: "c.weight",
            shape: vec![2, 1, 1, 1],
            values: vec![0.5, -1.0],
        },
        T {
            name: "c.bias",
            shape: vec![1],
            values: vec![0.0],
        },
    ];
    let e = case(&wrong, &g).unwrap_err();
    assert!(e.to_string().contains("c.weight"), "{e}");
    // Unknown op, unknown activation, reading an undefined value, zero stride, empty list.
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut g2 = g.clone();
        f(&mut g2);
        case(&t, &g2).map(|_| ()).unwrap_err().to_string()
    };
    assert!(edit(&|g| g["layers"][1]["op"] = json!("mul")).contains("unsupported op"));
    assert!(edit(&|g| g["layers"][0]["activation"] = json!("tanh")).contains("activation"));
    assert!(edit(&|g| g["layers"][1]["inputs"] = json!(["y", "nope"])).contains("nope"));
    assert!(edit(&|g| g["layers"][0]["stride"] = json!([0, 1])).contains("stride"));
    assert!(edit(&|g| g["layers"] = json!([])).contains("empty"));
    assert!(edit(&|g| g["layers"][0]["group"] = json!(2)).contains("depthwise"));
}

#[test]
fn wrong_inputs_are_errors() {
    let (t, g) = tiny();
    let graph = build_graph(loader::parse(&synth::file(&t, &g, false)).unwrap()).unwrap();
    let e = graph.run(Tensor::zeros(3, 2, 2), 1, false).unwrap_err();
    assert!(matches!(e, EngineError::Layer { .. }), "{e}");
    // The tiny file is neither CenterFace nor the descriptor.
    assert!(CenterFace::from_bytes(&synth::file(&t, &g, false)).is_err());
    assert!(Descriptor::from_bytes(&synth::file(&t, &g, false)).is_err());
    let missing = std::path::Path::new("/nonexistent/centerface.safetensors");
    assert!(matches!(CenterFace::load(missing), Err(EngineError::Io { .. })));
}
