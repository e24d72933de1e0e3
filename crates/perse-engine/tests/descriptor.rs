//! Descriptor against `engine/testvectors` (NumPy reference on the rounded 150x150 chip), and
//! the calibration table. The network tests skip loudly when the weights are missing.

mod common;

use perse_engine::align::Chip;
use perse_engine::{distance, similarity, Descriptor, Isa};

fn chip(tv: &std::path::Path) -> Chip {
    let c = common::read_npy(&tv.join("descriptor_input_chip_u8.npy"));
    assert_eq!(c.shape, vec![150, 150, 3]);
    Chip { data: c.data }
}

fn expected_descriptor(tv: &std::path::Path) -> [f32; 128] {
    let v: Vec<f32> = common::floats(&common::expected(tv)["descriptor"]["descriptor"])
        .iter()
        .map(|&v| v as f32)
        .collect();
    v.try_into().unwrap()
}

fn check(file: &str, max_distance: f32, max_abs: f32) {
    let test = format!("descriptor {file}");
    let (Some(model), Some(tv)) = (common::model(file, &test), common::testvectors(&test)) else {
        return;
    };
    for isa in Isa::available() {
        let ds = Descriptor::load(&model).unwrap().with_isa(isa);
        check_with(&format!("{test}, {}", isa.name()), &tv, &ds, max_distance, max_abs);
    }
}

fn check_with(test: &str, tv: &std::path::Path, ds: &Descriptor, max_distance: f32, max_abs: f32) {
    let want = expected_descriptor(tv);
    let got = ds.compute(&chip(tv)).unwrap();
    let many = ds
        .clone()
        .with_threads(2)
        .compute_many(&[chip(tv), chip(tv), chip(tv)])
        .unwrap();
    assert_eq!(many.len(), 3);
    let got2 = many[2];
    let d = distance(&got, &want);
    let err = common::max_abs_diff(&got, &want);
    eprintln!(
        "{test}: distance to reference {d:.3e}, max abs error {err:.3e}; compute vs compute_many on 2 threads distance {:.1e}",
        distance(&got, &got2)
    );
    assert!(d < max_distance && err < max_abs, "{test}: distance {d}, max abs {err}");
    assert!(distance(&got, &got2) < 1e-5);
}

#[test]
fn f32_descriptor_matches_reference() {
    check("dlib_resnet_v1.safetensors", 1e-4, 1e-5);
}

#[test]
fn f16_descriptor_is_close() {
    // README: f16 weights move a descriptor by at most 7e-4 in distance.
    check("dlib_resnet_v1.f16.safetensors", 1e-3, 1e-3);
}

/// The convs on 8-bit integers where the kernel set has an integer kernel (AVX2): the test
/// chip's descriptor moves by 0.030 in distance (cosine 0.99978; the same-person threshold
/// is a distance of 0.6, the f16 weights move it by 6e-4); on every kernel set `compute`
/// and `compute_many` agree.
#[test]
fn int8_descriptor_is_close() {
    let test = "int8 descriptor";
    let (Some(model), Some(tv)) = (
        common::model("dlib_resnet_v1.f16.safetensors", test),
        common::testvectors(test),
    ) else {
        return;
    };
    let want = expected_descriptor(&tv);
    for isa in Isa::available() {
        let ds = Descriptor::load(&model).unwrap().with_isa(isa).with_int8_convs();
        let got = ds.compute(&chip(&tv)).unwrap();
        let cos = got.iter().zip(&want).map(|(a, b)| a * b).sum::<f32>()
            / (got.iter().map(|a| a * a).sum::<f32>().sqrt() * want.iter().map(|b| b * b).sum::<f32>().sqrt());
        eprintln!(
            "{test}, {}: distance to reference {:.3e}, cosine {cos:.6}",
            isa.name(),
            distance(&got, &want)
        );
        check_with(&format!("{test}, {}", isa.name()), &tv, &ds, 5e-2, 1e-2);
        assert!(cos > 0.9995, "{test}, {}: cosine {cos}", isa.name());
    }
}

#[test]
fn every_layer_matches_reference_sums() {
    let (Some(model), Some(tv)) = (
        common::model("dlib_resnet_v1.safetensors", "descriptor layers"),
        common::testvectors("descriptor layers"),
    ) else {
        return;
    };
    let ds = Descriptor::load(&model).unwrap();
    let vals = ds.run(&chip(&tv).data, true).unwrap();
    let exp = common::expected(&tv);
    let mut worst = (0.0f64, String::new());
    for l in exp["descriptor"]["layers"].as_array().unwrap() {
        let name = l["output"].as_str().unwrap();
        let t = &vals[name];
        let want_shape: Vec<usize> = common::floats(&l["shape"]).iter().map(|&v| v as usize).collect();
        assert_eq!(want_shape.iter().product::<usize>(), t.data.len(), "{name} size");
        let sum: f64 = t.data.iter().map(|&v| f64::from(v)).sum();
        let rel = (sum - l["sum"].as_f64().unwrap()).abs() / l["abs_sum"].as_f64().unwrap().max(1e-12);
        assert!(rel < 1e-5, "layer output {name}: sum off by {rel:.2e} of abs_sum");
        if rel > worst.0 {
            worst = (rel, name.to_string());
        }
    }
    eprintln!(
        "descriptor layers: worst sum deviation {:.2e} of abs_sum at {}",
        worst.0, worst.1
    );
}

#[test]
fn calibration_matches_reference_table() {
    // Always runs: the table is in the test vectors, the anchors are in the README.
    assert!((similarity(0.6) - 0.7).abs() < 1e-6);
    assert!((similarity(0.4) - 0.95).abs() < 1e-6);
    let Some(tv) = common::testvectors("calibration table") else {
        return;
    };
    let exp = common::expected(&tv);
    let mut err = 0.0f64;
    for row in exp["calibration"]["table"].as_array().unwrap() {
        let (d, s) = (row[0].as_f64().unwrap(), row[1].as_f64().unwrap());
        err = err.max((f64::from(similarity(d as f32)) - s).abs());
    }
    eprintln!("calibration: max abs error over the table {err:.2e}");
    assert!(err < 1e-6);
}
