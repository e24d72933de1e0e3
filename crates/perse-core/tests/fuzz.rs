//! Property-based fuzzing of the two places that read untrusted bytes: the response parser
//! (error mapping and result models) and the image sniffer/decoder (`prepare`). The property
//! is simply "never panics": every input yields a value or an `Error`.
//!
//! `npm test` runs a short smoke (the case counts below). Longer runs: `npm run fuzz` (see
//! docs/reliability.md, "Reliability checks"), or by hand:
//! `PROPTEST_CASES=200000 cargo test --release -p perse-core --test fuzz`.

use bytes::Bytes;
use perse_core::models::{CompareResponse, DetectResponse, EnrollResponse, ListResponse};
use perse_core::{prepare, Error, PrepareMode, PrepareOptions};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../__test__/fixtures")
            .join(name),
    )
    .unwrap()
}

/// Arbitrary bytes, and arbitrary mutations of a valid body (more likely to go deep).
fn body() -> impl Strategy<Value = Vec<u8>> {
    let valid = br#"{"total_faces":1,"faces":[{"bounding_box":[1,2,3,4],"face_metrics":{"underexposure":0.1,"overexposure":0.1,"sharpness":0.9},"liveness_score":0.5}],"image_metrics":{"underexposure":0,"overexposure":0,"sharpness":1},"time_taken":0.1,"default_thresholds":{"underexposure":0.5,"overexposure":0.5,"sharpness":0.3,"liveness":0.5},"message":"m","code":"no_face_detected"}"#.to_vec();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec((0..valid.len(), any::<u8>()), 0..8).prop_map(move |edits| {
            let mut v = valid.clone();
            for (i, b) in edits {
                v[i] = b;
            }
            v
        }),
    ]
}

/// A real image with a few bytes overwritten and maybe cut short.
fn mutated_image(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(move |(edits, cut, truncate)| {
            let mut v = seed.to_vec();
            for (i, b) in edits {
                let at = i.index(v.len());
                v[at] = b;
            }
            if truncate {
                v.truncate(cut.index(v.len()).max(1));
            }
            v
        })
}

/// Each mode, plus `Fit` with a tiny upload limit: an upright JPEG or PNG under the limit is
/// sent as it is without being decoded, so only that third pass makes every mutated file
/// reach the decoder, the resize and the encoder.
fn prepare_both(bytes: Vec<u8>) {
    let tiny = PrepareOptions {
        mode: PrepareMode::Fit,
        max_dimension: 256,
        max_upload_bytes: 2_000,
        ..PrepareOptions::default()
    };
    for mode in [PrepareMode::Validate, PrepareMode::Fit] {
        let opts = PrepareOptions {
            mode,
            max_dimension: 256,
            ..PrepareOptions::default()
        };
        let _ = prepare(Bytes::from(bytes.clone()), &opts);
    }
    let _ = prepare(Bytes::from(bytes), &tiny);
}

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn response_parser_never_panics(status in 100u16..600, bytes in body()) {
        let e = Error::from_response(status, &bytes);
        prop_assert!(!e.code().is_empty());
        let _ = serde_json::from_slice::<DetectResponse>(&bytes);
        let _ = serde_json::from_slice::<CompareResponse>(&bytes);
        let _ = serde_json::from_slice::<EnrollResponse>(&bytes);
        let _ = serde_json::from_slice::<ListResponse>(&bytes);
        let _ = perse_core::jwt_expiry(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn sniffer_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = perse_core::sniff(&bytes);
        let _ = perse_core::validate_upload(&bytes, 1_000_000);
        prepare_both(bytes);
    }
}

proptest! {
    #![proptest_config(cases(24))]

    #[test]
    fn decoder_never_panics_on_mutated_jpeg(bytes in mutated_image(Box::leak(fixture("hopper.jpg").into_boxed_slice()))) {
        prepare_both(bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_exif_jpeg(bytes in mutated_image(Box::leak(fixture("hopper-exif-orientation-6.jpg").into_boxed_slice()))) {
        prepare_both(bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_png(bytes in mutated_image(Box::leak(fixture("cat.png").into_boxed_slice()))) {
        prepare_both(bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_bmp(bytes in mutated_image(Box::leak(fixture("hopper.bmp").into_boxed_slice()))) {
        prepare_both(bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_webp_gif_tiff(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
    ) {
        let mut v = fixture(["hopper.webp", "hopper.gif", "hopper.tif"][which]);
        for (i, b) in edits {
            let at = i.index(v.len());
            v[at] = b;
        }
        prepare_both(v);
    }
}
