//! The proof that `batch.rs` and `lib/decode.js` agree: every outcome variant, each field set
//! to a distinct value (optional fields both present and absent), encoded as a real batch,
//! next to the serde JSON of the same models. `__test__/layout.spec.js` decodes the batch and
//! compares. The models are written out field by field (no `..Default`), so a field added to
//! a model does not compile here until it is given a sample value, and then the test fails
//! until the encoder and the decoder carry it.

use napi_derive::napi;
use perse_core::models::*;
use perse_core::{ImageFormat, Source, Upload, Uploaded};
use serde_json::json;

use super::batch::{Batch, Done};

/// A batch of every outcome shape and what each must decode to.
#[napi(object)]
pub struct LayoutSamples {
    pub nums: Vec<f64>,
    pub strs: Vec<String>,
    /// JSON: `[{ id, ok, value }]`, `value` being the model's serde JSON (snake_case) for
    /// results, and `{ code, message, httpStatus, retryable, attempts, cause }` for failures.
    pub expected: String,
}

/// Internal: the layout samples for `__test__/layout.spec.js`.
#[napi(js_name = "__layoutSamples", catch_unwind)]
pub fn layout_samples() -> LayoutSamples {
    let mut next = 0.0;
    let mut n = || {
        next += 1.0;
        next + 0.25
    };
    let mut metrics = |full: bool| Metrics {
        underexposure: n(),
        overexposure: n(),
        sharpness: n(),
        color: full.then(&mut n),
        rotation: full.then(&mut n),
    };
    let m1 = metrics(true);
    let m2 = metrics(false);
    let m3 = metrics(true);
    let mut n = || {
        next += 1.0;
        next + 0.5
    };
    let faces = vec![
        Face {
            bounding_box: [n(), n(), n(), n()],
            landmarks: Some(Landmarks {
                right_eye: [n(), n()],
                left_eye: [n(), n()],
                nose: [n(), n()],
                mouth_right: [n(), n()],
                mouth_left: [n(), n()],
            }),
            face_metrics: m1,
            liveness_score: n(),
        },
        Face {
            bounding_box: [n(), n(), n(), n()],
            landmarks: None,
            face_metrics: m2,
            liveness_score: n(),
        },
    ];
    let detect = DetectResponse {
        total_faces: 2,
        faces,
        image_metrics: m3,
        time_taken: n(),
        default_thresholds: DetectThresholds {
            underexposure: n(),
            overexposure: n(),
            sharpness: n(),
            liveness: n(),
        },
        message: Some("detect message".into()),
    };
    let compare = CompareResponse {
        similarity: n(),
        time_taken: n(),
        default_thresholds: CompareThresholds { similarity: n() },
        message: None,
    };
    let enroll = EnrollResponse {
        user_token: "usr_sample".into(),
        time_taken: n(),
        message: Some("enrolled".into()),
    };
    let list = ListResponse {
        user_tokens: vec!["usr_a".into(), "usr_b".into()],
        total_users: 2,
        time_taken: n(),
        message: None,
    };
    let delete = DeleteResponse {
        time_taken: n(),
        message: Some("deleted".into()),
    };
    let mut upload = |format: ImageFormat| Upload {
        width: 640,
        height: 480,
        format,
        bytes: n() as usize,
        scale: n(),
        orientation_applied: format == ImageFormat::Jpeg,
        source: Source {
            stored_width: 1,
            stored_height: 1,
            orientation: 1,
            format,
        },
    };
    let (u1, u2, u3) = (
        upload(ImageFormat::Jpeg),
        upload(ImageFormat::Png),
        upload(ImageFormat::Jpeg),
    );
    let failure = perse_core::Error {
        kind: perse_core::ErrorKind::TokenRefreshFailed {
            cause: "callback said no".into(),
        },
        attempts: 3,
        retryable: true,
    };
    let plain_failure = perse_core::Error::from(perse_core::ErrorKind::Api {
        code: "no_face_detected".into(),
        message: "no face".into(),
        http_status: 422,
    });
    let fail_json = |e: &perse_core::Error| {
        json!({ "code": e.code(), "message": e.to_string(), "httpStatus": e.http_status(),
                "retryable": e.retryable, "attempts": e.attempts, "cause": e.cause() })
    };
    let with = |model: serde_json::Value, uploaded: serde_json::Value| {
        let mut v = model;
        v["uploaded"] = uploaded;
        v
    };
    let expected = json!([
        { "id": 10, "ok": true, "value": with(json!(detect), json!(u1)) },
        { "id": 11, "ok": true, "value": with(json!(compare), json!({ "a": u2, "b": null })) },
        { "id": 12, "ok": true, "value": with(json!(enroll), json!(u3)) },
        { "id": 13, "ok": true, "value": list },
        { "id": 14, "ok": true, "value": delete },
        { "id": 15, "ok": true, "value": { "token": "eyJ.sample.token" } },
        { "id": 16, "ok": false, "value": fail_json(&failure) },
        { "id": 17, "ok": false, "value": fail_json(&plain_failure) },
    ]);
    let mut batch = Batch::default();
    batch.push(
        10,
        Done::Detect(Uploaded {
            result: detect,
            uploads: vec![Some(u1)],
        }),
    );
    batch.push(
        11,
        Done::Compare(Uploaded {
            result: compare,
            uploads: vec![Some(u2), None],
        }),
    );
    batch.push(
        12,
        Done::Enroll(Uploaded {
            result: enroll,
            uploads: vec![Some(u3)],
        }),
    );
    batch.push(13, Done::List(list));
    batch.push(14, Done::Delete(delete));
    batch.push(15, Done::Login("eyJ.sample.token".into()));
    batch.push(16, Done::Failed(failure));
    batch.push(17, Done::Failed(plain_failure));
    LayoutSamples {
        nums: batch.nums,
        strs: batch.strs,
        expected: expected.to_string(),
    }
}
