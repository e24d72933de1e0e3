//! Tests of image preparation on the fixture photos.

use super::decode::gate;
use super::shrink::dct_scale;
use super::*;

fn fixture(name: &str) -> Bytes {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../__test__/fixtures")
        .join(name);
    std::fs::read(p).unwrap().into()
}

fn fit_opts() -> PrepareOptions {
    PrepareOptions {
        mode: PrepareMode::Fit,
        ..PrepareOptions::default()
    }
}

#[test]
fn validate_passes_small_jpeg_unchanged_and_reads_dimensions() {
    let b = fixture("astronaut.jpg");
    let p = prepare(b.clone(), &PrepareOptions::default()).unwrap();
    assert_eq!(
        (p.width, p.height, p.format, p.resized),
        (512, 512, ImageFormat::Jpeg, false)
    );
    assert_eq!(p.data, b);
    let fit = prepare(b.clone(), &fit_opts()).unwrap();
    assert_eq!(fit.data, b, "an uploadable upright image is never re-encoded");
}

#[test]
fn fit_shrinks_large_images_under_the_limit() {
    let b = fixture("astronaut-3000-q97.jpg");
    let validate = PrepareOptions {
        mode: PrepareMode::Validate,
        ..PrepareOptions::default()
    };
    assert_eq!(prepare(b.clone(), &validate).unwrap_err().code(), "file_too_large");
    assert_eq!(
        prepare(b.clone(), &PrepareOptions::default()).unwrap().width,
        1600,
        "auto, the default, shrinks it"
    );
    let p = prepare(b, &fit_opts()).unwrap();
    assert!(p.data.len() <= 1_000_000 && p.resized);
    assert_eq!((p.width, p.height), (1600, 1600));
    let tight = PrepareOptions {
        max_upload_bytes: 60_000,
        ..fit_opts()
    };
    let p = prepare(fixture("astronaut-3000-q97.jpg"), &tight).unwrap();
    assert!(p.data.len() <= 60_000, "{}", p.data.len());
}

/// A valid PNG header declaring 100000 x 100000 pixels, with empty image data.
fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    for (len, chunk) in [(13u32, ihdr), (0, b"IDAT".to_vec()), (0, b"IEND".to_vec())] {
        png.extend_from_slice(&len.to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32fast::hash(&chunk).to_be_bytes());
    }
    png
}

#[test]
fn decode_estimates_follow_dct_scaling() {
    assert_eq!(dct_scale(4000, 1600), 2);
    assert_eq!(dct_scale(8000, 1600), 4);
    assert_eq!(dct_scale(3000, 1600), 1);
    let Plan::Decode(job) = plan(fixture("astronaut-3000-q97.jpg"), &fit_opts()).unwrap() else {
        panic!("a 1.6 MB JPEG needs shrinking")
    };
    let est = job.memory_estimate();
    assert!((3000 * 3000 * 3..3000 * 3000 * 12).contains(&est), "{est}");
}

#[test]
fn the_decode_gate_admits_one_budget_sized_job_at_a_time() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let kib = (DECODE_BUDGET_BYTES / 1024) as u32;
    rt.block_on(async {
        let first = gate().memory.acquire_many(kib).await.unwrap();
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), gate().memory.acquire_many(1)).await;
        assert!(second.is_err(), "the budget is exhausted while the first job runs");
        drop(first);
        assert!(gate().memory.acquire_many(kib).await.is_ok());
    });
}

#[test]
fn bombs_are_refused_from_the_header() {
    for mode in [PrepareMode::Validate, PrepareMode::Fit] {
        let e = prepare(
            png_bomb().into(),
            &PrepareOptions {
                mode,
                ..PrepareOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_file_type", "{e}");
        assert!(e.to_string().contains("pixel limit"), "{e}");
    }
}

#[test]
fn exif_orientations_come_out_upright() {
    let upright = image::load_from_memory(&fixture("hopper.jpg")).unwrap().to_rgb8();
    for n in 2..=8 {
        let p = prepare(fixture(&format!("hopper-exif-orientation-{n}.jpg")), &fit_opts()).unwrap();
        assert!(p.orientation_applied, "{n}");
        let out = image::load_from_memory(&p.data).unwrap().to_rgb8();
        assert_eq!(out.dimensions(), upright.dimensions(), "{n}");
        let diff: f64 = out
            .as_raw()
            .iter()
            .zip(upright.as_raw())
            .map(|(a, b)| (*a as f64 - *b as f64).abs())
            .sum();
        let mad = diff / out.as_raw().len() as f64;
        assert!(mad < 6.0, "orientation {n}: mean absolute difference {mad:.2}");
    }
}

#[test]
fn other_formats_become_jpeg_and_bad_files_fail() {
    for name in [
        "hopper.webp",
        "hopper.gif",
        "hopper.bmp",
        "hopper.tif",
        "astronaut-2048.png",
    ] {
        let p = prepare(fixture(name), &fit_opts()).unwrap();
        assert_eq!(p.format, ImageFormat::Jpeg, "{name}");
        assert!(p.data.len() <= 1_000_000 && p.data.starts_with(&[0xFF, 0xD8]), "{name}");
    }
    for name in [
        "empty.jpg",
        "not-an-image.jpg",
        "truncated.jpg",
        "broken.png",
        "broken_data_stream.png",
        "hopper_bad_exif.jpg",
        "invalid-exif.jpg",
    ] {
        for mode in [PrepareMode::Validate, PrepareMode::Fit] {
            let e = prepare(
                fixture(name),
                &PrepareOptions {
                    mode,
                    ..PrepareOptions::default()
                },
            );
            assert!(e.is_err(), "{name} in {mode:?} should fail");
        }
    }
}

#[test]
fn a_pdf_is_named_with_what_to_do() {
    let pdf = Bytes::from_static(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n");
    for mode in [PrepareMode::Validate, PrepareMode::Auto] {
        let e = prepare(
            pdf.clone(),
            &PrepareOptions {
                mode,
                ..PrepareOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_file_type");
        assert!(
            e.to_string()
                .contains("a PDF document (render its page to a JPEG first"),
            "{e}"
        );
    }
}
