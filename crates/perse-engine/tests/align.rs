//! Alignment geometry on synthetic images (always runs; the real chip is checked in pipeline.rs).

use perse_engine::align::{chip_reference_points, extract_chip, similarity_transform, CHIP_SIZE};

#[test]
fn similarity_fit_recovers_a_known_transform() {
    let src = chip_reference_points();
    // Rotate by 10 degrees, scale 2.5, shift (300, 120).
    let (a, b) = (2.5 * 10f64.to_radians().cos(), 2.5 * 10f64.to_radians().sin());
    let dst = src.map(|[x, y]| [a * x - b * y + 300.0, b * x + a * y + 120.0]);
    let t = similarity_transform(&src, &dst);
    let want = [[a, -b, 300.0], [b, a, 120.0]];
    for (r, w) in t.iter().flatten().zip(want.iter().flatten()) {
        assert!((r - w).abs() < 1e-9, "{t:?} vs {want:?}");
    }
}

#[test]
fn chip_of_a_flat_image_is_flat_and_large_faces_use_the_pyramid() {
    // A uniform 900x700 image with a face 4x the chip scale (two pyramid levels).
    let (w, h) = (900usize, 700usize);
    let rgb: Vec<u8> = (0..w * h).flat_map(|_| [200u8, 100, 50]).collect();
    let lm = chip_reference_points().map(|[x, y]| [(x * 4.0 + 150.0) as f32, (y * 4.0 + 40.0) as f32]);
    let chip = extract_chip(&rgb, w, h, &lm).unwrap();
    assert_eq!(chip.data.len(), CHIP_SIZE * CHIP_SIZE * 3);
    let centre = (75 * CHIP_SIZE + 75) * 3;
    for (c, want) in [200.0f32, 100.0, 50.0].iter().enumerate() {
        assert!(
            (chip.data[centre + c] - want).abs() < 1e-3,
            "channel {c}: {}",
            chip.data[centre + c]
        );
    }
}

#[test]
fn bad_landmarks_and_sizes_do_not_panic() {
    let rgb = vec![128u8; 64 * 48 * 3];
    for lm in [
        [[f32::NAN, 0.0]; 5],
        [
            [f32::INFINITY, 1.0],
            [0.0, f32::NEG_INFINITY],
            [1.0, 1.0],
            [2.0, 2.0],
            [3.0, 3.0],
        ],
        [[1e30, 1e30], [-1e30, 1e30], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
        [[10.0, 10.0]; 5],
        [
            [-500.0, -500.0],
            [-400.0, -500.0],
            [-450.0, -450.0],
            [-480.0, -400.0],
            [-420.0, -400.0],
        ],
    ] {
        let chip = extract_chip(&rgb, 64, 48, &lm).unwrap();
        assert!(chip.data.iter().all(|v| v.is_finite()), "{lm:?}");
    }
    assert!(extract_chip(&rgb, 64, 49, &[[0.0; 2]; 5]).is_err());
}
