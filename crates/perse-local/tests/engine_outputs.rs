//! Today's engine against the outputs of the engine before issue 27's kernels (written by
//! `examples/engine_outputs` at that commit into `engine/eval/outputs/`): on every evaluation
//! photo, the same faces, each box with IoU >= 0.99 against the reference's and each face's
//! descriptor with cosine >= 0.999. The photos are fetched by `npm run eval:engine` (not in
//! git); without them this test skips loudly. Every kernel set this CPU runs is held to it.

#[path = "../examples/eval/data.rs"]
#[allow(dead_code)]
mod data;
#[path = "../examples/engine_outputs/outputs.rs"]
mod outputs;

use std::path::PathBuf;

use perse_engine::Isa;
use serde_json::Value;

/// The reference: the engine at the commit before issue 27's first change.
const REFERENCE: &str = "engine/eval/outputs/ca488ec.json";
const MIN_IOU: f64 = 0.99;
const MIN_COSINE: f64 = 0.999;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_f64).collect())
}

fn iou(a: &[f64], b: &[f64]) -> f64 {
    let (ax2, ay2, bx2, by2) = (a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]);
    let iw = (ax2.min(bx2) - a[0].max(b[0])).max(0.0);
    let ih = (ay2.min(by2) - a[1].max(b[1])).max(0.0);
    let i = iw * ih;
    i / (a[2] * a[3] + b[2] * b[3] - i)
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

/// Holds `got` to `want`; returns (faces compared, min box IoU, min descriptor cosine).
fn check(what: &str, want: &serde_json::Map<String, Value>, got: &Value) -> (usize, f64, f64) {
    let (mut min_iou, mut min_cos, mut faces) = (1.0f64, 1.0f64, 0);
    for (name, want_faces) in want {
        let (w, g) = (want_faces.as_array().unwrap(), got[name].as_array().unwrap());
        assert_eq!(
            g.len(),
            w.len(),
            "{what}, {name}: {} faces, the reference has {}",
            g.len(),
            w.len()
        );
        // Greedy matching by IoU, best pairs first.
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, a) in w.iter().enumerate() {
            for (j, b) in g.iter().enumerate() {
                pairs.push((iou(&floats(&a["box"]), &floats(&b["box"])), i, j));
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut used_w, mut used_g) = (vec![false; w.len()], vec![false; g.len()]);
        for (v, i, j) in pairs {
            if used_w[i] || used_g[j] {
                continue;
            }
            (used_w[i], used_g[j]) = (true, true);
            let c = cosine(&floats(&w[i]["descriptor"]), &floats(&g[j]["descriptor"]));
            assert!(
                v >= MIN_IOU,
                "{what}, {name}: a face's box moved: IoU {v:.4} < {MIN_IOU}"
            );
            assert!(
                c >= MIN_COSINE,
                "{what}, {name}: a face's descriptor moved: cosine {c:.5} < {MIN_COSINE}"
            );
            (min_iou, min_cos, faces) = (min_iou.min(v), min_cos.min(c), faces + 1);
        }
    }
    (faces, min_iou, min_cos)
}

/// Every kernel set this CPU runs (AVX-512, AVX2+FMA and portable here; NEON and portable on
/// aarch64), each forced on an engine of its own, on every evaluation photo.
#[test]
fn outputs_match_the_engine_before_issue_27() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let eval = root.join("engine/eval");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(root.join(REFERENCE)).unwrap()).unwrap();
    let want = reference.as_object().unwrap();
    let missing = want.keys().filter(|n| !eval.join("images").join(n).is_file()).count();
    if missing > 0 {
        // eval:engine runs this test after fetching the photos, and says so: there a skip
        // would hide a failure, so it is one.
        assert!(
            std::env::var_os("PERSE_EVAL_PHOTOS_REQUIRED").is_none(),
            "{missing} evaluation photos are missing from engine/eval/images"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED engine outputs: {missing} evaluation photos are missing from engine/eval/images \
             (npm run eval:engine fetches them) ***\n"
        );
        return;
    }
    let weights = root.join("packages/local/weights");
    let photos: Vec<_> = data::load(&eval)
        .unwrap()
        .into_iter()
        .filter(|p| want.contains_key(&p.name))
        .collect();
    assert_eq!(
        photos.len(),
        want.len(),
        "the reference names photos the eval does not load"
    );
    for isa in Isa::available() {
        let engine = perse_local::analysis::Engine::load_with_isa(&weights, isa).unwrap();
        let started = std::time::Instant::now();
        let got = outputs::outputs(&engine, &photos).unwrap();
        let (faces, min_iou, min_cos) = check(isa.name(), want, &got);
        eprintln!(
            "engine outputs, {} kernels: {} photos, {faces} faces against {REFERENCE}: min box IoU {min_iou:.4}, \
             min descriptor cosine {min_cos:.6} ({:.1} s)",
            isa.name(),
            want.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(faces > 100, "{}: only {faces} faces compared", isa.name());
    }
}
