//! CenterFace against `engine/testvectors` (NumPy reference outputs on a 128x160 photo).
//! Skips loudly when the weights are missing.

mod common;

use perse_engine::{build_graph, decode, loader, padded_input, CenterFace, DetectOptions, Isa, Tensor};

fn input_tensor(tv: &std::path::Path) -> Tensor {
    let img = common::read_npy(&tv.join("centerface_input_u8_h160_w128.npy"));
    assert_eq!(img.shape, vec![160, 128, 3]);
    let rgb: Vec<u8> = img.data.iter().map(|&v| v as u8).collect();
    padded_input(&rgb, 128, 160)
}

#[test]
fn outputs_match_reference() {
    let (Some(model), Some(tv)) = (
        common::model("centerface.safetensors", "centerface outputs"),
        common::testvectors("centerface outputs"),
    ) else {
        return;
    };
    for isa in Isa::available() {
        let cf = CenterFace::load(&model).unwrap().with_isa(isa);
        eprintln!("centerface outputs, {} kernels:", isa.name());
        check_outputs(&tv, &cf);
    }
}

fn check_outputs(tv: &std::path::Path, cf: &CenterFace) {
    let out = cf.forward(input_tensor(tv)).unwrap();
    let two = cf.clone().with_threads(2).forward(input_tensor(tv)).unwrap();
    for (name, got, got2) in [
        ("heatmap", &out.heatmap, &two.heatmap),
        ("scale", &out.scale, &two.scale),
        ("offset", &out.offset, &two.offset),
        ("landmarks", &out.landmarks, &two.landmarks),
    ] {
        let want = common::read_npy(&tv.join(format!("centerface_{name}.npy")));
        assert_eq!(&want.shape[..], &got.shape(), "{name} shape");
        let err = common::max_abs_diff(&got.data, &want.data);
        let rel = err / common::max_abs(&want.data);
        let thread_diff = common::max_abs_diff(&got.data, &got2.data);
        eprintln!("centerface {name}: max abs error {err:.3e} (relative to max |value| {rel:.3e}); 1 vs 2 threads {thread_diff:.1e}");
        assert!(
            err <= 1e-4 && rel <= 1e-3,
            "{name}: max abs error {err}, relative {rel}"
        );
        assert!(
            thread_diff <= 1e-5,
            "{name}: threads change the result by {thread_diff}"
        );
    }
}

#[test]
fn every_layer_matches_reference_sums() {
    let (Some(model), Some(tv)) = (
        common::model("centerface.safetensors", "centerface layers"),
        common::testvectors("centerface layers"),
    ) else {
        return;
    };
    let exp = common::expected(&tv);
    let g = build_graph(loader::load(&model).unwrap()).unwrap();
    let vals = g.run(input_tensor(&tv), 1, true).unwrap();
    let mut worst = (0.0f64, String::new());
    for l in exp["centerface"]["layers"].as_array().unwrap() {
        let name = l["output"].as_str().unwrap();
        let t = &vals[name];
        let shape: Vec<usize> = common::floats(&l["shape"]).iter().map(|&v| v as usize).collect();
        assert_eq!(&shape[..], &t.shape()[..], "{name} shape");
        let sum: f64 = t.data.iter().map(|&v| f64::from(v)).sum();
        let rel = (sum - l["sum"].as_f64().unwrap()).abs() / l["abs_sum"].as_f64().unwrap().max(1e-12);
        let idx = common::floats(&l["sample_index"]);
        let smp = common::floats(&l["sample"]);
        let smp_err = idx
            .iter()
            .zip(&smp)
            .map(|(&i, &v)| (f64::from(t.data[i as usize]) - v).abs())
            .fold(0.0, f64::max);
        assert!(
            rel < 1e-5 && smp_err < 1e-3,
            "layer output {name}: sum off by {rel:.2e} of abs_sum, samples by {smp_err:.2e}"
        );
        if rel > worst.0 {
            worst = (rel, name.to_string());
        }
    }
    eprintln!(
        "centerface layers: worst sum deviation {:.2e} of abs_sum at {}",
        worst.0, worst.1
    );
}

#[test]
fn decode_matches_reference() {
    let (Some(model), Some(tv)) = (
        common::model("centerface.safetensors", "centerface decode"),
        common::testvectors("centerface decode"),
    ) else {
        return;
    };
    let exp = &common::expected(&tv)["centerface"]["decode"];
    let cf = CenterFace::load(&model).unwrap();
    let o = cf.forward(input_tensor(&tv)).unwrap();
    let boxes = decode::decode(&o.heatmap, &o.scale, &o.offset, &o.landmarks, (160, 128), 0.5, 0.3);
    let want_boxes = exp["boxes_x1y1x2y2score"].as_array().unwrap();
    assert_eq!(boxes.len(), want_boxes.len(), "number of faces");
    let want_lm = exp["landmarks_xy"].as_array().unwrap();
    let mut err = 0.0f64;
    for ((b, wb), wl) in boxes.iter().zip(want_boxes).zip(want_lm) {
        let got = [b.x1, b.y1, b.x2, b.y2, b.score]
            .into_iter()
            .chain(b.landmarks.iter().flatten().copied());
        let want = common::floats(wb).into_iter().chain(common::floats(wl));
        err = got.zip(want).map(|(g, w)| (f64::from(g) - w).abs()).fold(err, f64::max);
    }
    eprintln!(
        "centerface decode: {} face(s), max abs error of box/landmark coordinates {err:.3e} px",
        boxes.len()
    );
    assert!(err < 1e-2, "decode differs by {err} px");
    // And through the public detect() on the raw image (no resize, no padding needed).
    let img = common::read_npy(&tv.join("centerface_input_u8_h160_w128.npy"));
    let rgb: Vec<u8> = img.data.iter().map(|&v| v as u8).collect();
    let dets = cf.detect(&rgb, 128, 160, None).unwrap();
    assert_eq!(dets.len(), boxes.len());
    // min_face raises the working size above max_side: 16 px faces need the full 160 px here.
    let opts = DetectOptions {
        max_side: Some(64),
        min_face: Some(16.0),
        ..DetectOptions::default()
    };
    assert_eq!(cf.detect_with(&rgb, 128, 160, &opts).unwrap(), dets);
    assert!(
        (dets[0].bbox[0] - boxes[0].x1).abs() < 1e-4 && (dets[0].bbox[2] - (boxes[0].x2 - boxes[0].x1)).abs() < 1e-4
    );
}

#[test]
fn f16_weights_report() {
    let (Some(model), Some(tv)) = (
        common::model("centerface.f16.safetensors", "centerface f16"),
        common::testvectors("centerface f16"),
    ) else {
        return;
    };
    let out = CenterFace::load(&model).unwrap().forward(input_tensor(&tv)).unwrap();
    for (name, got) in [("heatmap", &out.heatmap), ("scale", &out.scale)] {
        let want = common::read_npy(&tv.join(format!("centerface_{name}.npy")));
        let err = common::max_abs_diff(&got.data, &want.data);
        eprintln!("centerface f16 weights {name}: max abs error {err:.3e} (README: heatmap 1.8e-3, scale up to 9e-2)");
        assert!(err < 0.2, "{name}: {err}");
    }
}

/// At a size where the inverted-residual blocks run fused (the 128x160 test vector is too
/// small for that), the network's outputs equal the layer-by-layer run's, with every kernel
/// set and thread count.
#[test]
fn fused_network_matches_layer_by_layer() {
    let (Some(model), Some(tv)) = (
        common::model("centerface.safetensors", "centerface fused"),
        common::testvectors("centerface fused"),
    ) else {
        return;
    };
    let img = image::open(tv.join("pipeline_input.png")).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let input = padded_input(img.as_raw(), w as usize, h as usize);
    let g = build_graph(loader::load(&model).unwrap()).unwrap();
    let layered = g.run(input.clone(), 1, true).unwrap();
    for isa in Isa::available() {
        let g = g.clone().with_isa(isa);
        let blocks = g
            .profile(input.clone(), 1)
            .unwrap()
            .iter()
            .filter(|l| l.op == "block")
            .count();
        assert!(blocks >= 5, "{}: only {blocks} blocks ran fused", isa.name());
        for threads in [1, 2] {
            let fused = g.run(input.clone(), threads, false).unwrap();
            for name in ["heatmap", "scale", "offset", "landmarks"] {
                let (a, b) = (&fused[name], &layered[name]);
                assert_eq!(a.shape(), b.shape());
                let err = common::max_abs_diff(&a.data, &b.data);
                eprintln!(
                    "centerface fused {name}, {}, {threads} thread(s), {blocks} blocks: max abs difference {err:.1e}",
                    isa.name()
                );
                assert!(err <= 1e-4, "{name}: fused run differs by {err}");
            }
        }
    }
}
