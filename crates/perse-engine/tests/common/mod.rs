//! Shared test helpers: locating weights and test vectors, reading `.npy` files, and
//! skipping loudly when the (git-ignored) weights are absent.
#![allow(dead_code)] // each test binary uses a different subset

pub mod synth;

use std::path::{Path, PathBuf};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where model files are looked for: `PERSE_ENGINE_MODELS`, else `engine/models` (every
/// precision, written by `engine/fetch_models.py`, git-ignored) and then
/// `packages/local/weights` (the two files the local server ships, in git).
pub fn models_dirs() -> Vec<PathBuf> {
    match std::env::var_os("PERSE_ENGINE_MODELS") {
        Some(p) => vec![PathBuf::from(p)],
        None => vec![
            repo_root().join("engine/models"),
            repo_root().join("packages/local/weights"),
        ],
    }
}

/// Prints to the real stderr: libtest captures `eprintln!` of passing tests, and a skip
/// must be visible in a plain `cargo test` run.
pub fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// The path of a model file, or `None` after printing a loud skip notice.
pub fn model(file: &str, test: &str) -> Option<PathBuf> {
    let dirs = models_dirs();
    if let Some(p) = dirs.iter().map(|d| d.join(file)).find(|p| p.is_file()) {
        return Some(p);
    }
    let p = dirs[0].join(file);
    loud(&format!(
        "\n*** SKIPPED {test}: model file {} not found. The weights are not in git; run \
         `engine/.venv/bin/python engine/fetch_models.py` (see engine/README.md) or set \
         PERSE_ENGINE_MODELS to the folder holding them. ***\n",
        p.display()
    ));
    None
}

/// The test-vector folder, or `None` after printing a loud skip notice.
pub fn testvectors(test: &str) -> Option<PathBuf> {
    let p = repo_root().join("engine/testvectors");
    if p.join("expected.json").is_file() {
        return Some(p);
    }
    loud(&format!(
        "\n*** SKIPPED {test}: {} not found (engine/testvectors). ***\n",
        p.display()
    ));
    None
}

/// `expected.json`.
pub fn expected(dir: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(dir.join("expected.json")).expect("read expected.json");
    serde_json::from_str(&s).expect("parse expected.json")
}

/// A JSON array of numbers as f64s (nested arrays are flattened).
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().expect("number")],
    }
}

/// A `.npy` array: its shape and its values as f32 (supports `<f4` and `|u1`).
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

pub fn read_npy(path: &Path) -> Npy {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..6], b"\x93NUMPY", "not an npy file");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    assert!(header.contains("'fortran_order': False"), "C order expected: {header}");
    let descr = header.split("'descr': '").nth(1).unwrap().split('\'').next().unwrap();
    let shape_s = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> = shape_s
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let raw = &b[start + hlen..];
    let data: Vec<f32> = match descr {
        "<f4" => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "|u1" => raw.iter().map(|&v| f32::from(v)).collect(),
        other => panic!("unsupported npy dtype {other}"),
    };
    assert_eq!(data.len(), shape.iter().product::<usize>(), "npy size");
    Npy { shape, data }
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Largest absolute value.
pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|v| v.abs()).fold(0.0, f32::max)
}
