//! The whole pipeline on `pipeline_input.png` (455x569): detection → 5 landmarks → chip →
//! descriptor, each step against the NumPy reference. Skips loudly when the weights are missing.

mod common;

use perse_engine::align::{self, chip_reference_points, similarity_transform};
use perse_engine::{distance, CenterFace, Descriptor};

#[test]
fn pipeline_matches_reference() {
    let test = "pipeline";
    let (Some(cf_path), Some(ds_path), Some(tv)) = (
        common::model("centerface.safetensors", test),
        common::model("dlib_resnet_v1.safetensors", test),
        common::testvectors(test),
    ) else {
        return;
    };
    let exp = common::expected(&tv);
    let img = image::open(tv.join("pipeline_input.png")).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    assert_eq!((w, h), (455, 569));
    let cf = CenterFace::load(cf_path).unwrap();
    let dets = cf.detect(img.as_raw(), w, h, None).unwrap();
    let want_boxes = exp["pipeline"]["detect"]["boxes_x1y1x2y2score"].as_array().unwrap();
    assert_eq!(dets.len(), want_boxes.len(), "faces found");
    let wb = common::floats(&want_boxes[0]);
    let d = &dets[0];
    let got_box = [
        d.bbox[0],
        d.bbox[1],
        d.bbox[0] + d.bbox[2],
        d.bbox[1] + d.bbox[3],
        d.score,
    ];
    let box_err = got_box
        .iter()
        .zip(&wb)
        .map(|(g, w)| (f64::from(*g) - w).abs())
        .fold(0.0, f64::max);
    let want_lm = common::floats(&exp["pipeline"]["detect"]["landmarks_xy"][0]);
    let lm_err = d
        .landmarks
        .iter()
        .flatten()
        .zip(&want_lm)
        .map(|(g, w)| (f64::from(*g) - w).abs())
        .fold(0.0, f64::max);

    // Alignment transform against the reference's 2x3 matrix.
    let dst = d.landmarks.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let t = similarity_transform(&chip_reference_points(), &dst);
    let want_t = common::floats(&exp["pipeline"]["align"]["similarity_chip_to_image_2x3"]);
    let t_err = t
        .iter()
        .flatten()
        .zip(&want_t)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);

    let chip = align::extract_chip(img.as_raw(), w as usize, h as usize, &d.landmarks).unwrap();
    let want_chip = common::read_npy(&tv.join("pipeline_chip_f32.npy"));
    let chip_err = common::max_abs_diff(&chip.data, &want_chip.data);
    let rounded = chip.rounded();
    let want_u8 = common::read_npy(&tv.join("descriptor_input_chip_u8.npy"));
    let differing = rounded.data.iter().zip(&want_u8.data).filter(|(a, b)| a != b).count();

    let ds = Descriptor::load(ds_path).unwrap();
    let got = ds.compute(&rounded).unwrap();
    let want: Vec<f32> = common::floats(&exp["descriptor"]["descriptor"])
        .iter()
        .map(|&v| v as f32)
        .collect();
    let dist = distance(&got, &want.try_into().unwrap());
    eprintln!(
        "pipeline: box max abs error {box_err:.2e} px, landmarks {lm_err:.2e} px, transform {t_err:.2e}, \
         chip max abs error {chip_err:.2e} (0..255), rounded chip values differing {differing} of {}, \
         descriptor distance {dist:.2e}",
        rounded.data.len()
    );
    assert!(
        box_err < 1e-2 && lm_err < 1e-2,
        "detection differs: box {box_err}, landmarks {lm_err}"
    );
    // The transform's translation is in pixels and moves with the landmarks (themselves
    // allowed 1e-2 px above): 1e-3 leaves room for the kernels' summation order (FMA, tiles).
    assert!(t_err < 1e-3, "transform differs by {t_err}");
    assert!(chip_err < 0.05, "chip differs by {chip_err}");
    assert!(dist < 1e-3, "descriptor distance {dist}");
}
