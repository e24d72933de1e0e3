//! Response bodies as they travel on the wire (snake_case). Unknown fields are ignored, so
//! the API can add fields without breaking old clients; `color` and `rotation` are optional
//! because older servers omit them. The local server serialises the same types, which keeps
//! it and the client in step. Each is declared with `wire_model!` (see `layout.rs`): the
//! same field list gives the completion-batch encoder, the JS decoder and the TypeScript
//! types (`npm run generate`), so a field is added here and nowhere else by hand.

use serde::{Deserialize, Serialize};

use crate::wire_model;

wire_model! {
    /// Quality metrics of a face crop or of the whole image.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Metrics {
        /// 0..1, loss of shadow detail (closer to 0 is better).
        pub underexposure: f64,
        /// 0..1, loss of highlight detail (closer to 0 is better).
        pub overexposure: f64,
        /// 0..1, absence of blur (closer to 1 is better).
        pub sharpness: f64,
        /// 0..1, colour degradation (newer API versions only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub color: Option<f64>,
        /// 0..360, head rotation away from the camera (newer API versions only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rotation: Option<f64>,
    }
}

wire_model! {
    /// Five facial points, each `[x, y]` in pixels of the photo the caller passed, as a viewer
    /// displays it (EXIF orientation applied, full resolution).
    // On the wire they are in pixels of the uploaded image; `endpoints.rs` maps them back.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Landmarks {
        pub right_eye: [f64; 2],
        pub left_eye: [f64; 2],
        pub nose: [f64; 2],
        pub mouth_right: [f64; 2],
        pub mouth_left: [f64; 2],
    }
}

wire_model! {
    /// One detected face.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Face {
        /// `[x, y, width, height]` in pixels of the photo the caller passed, as a viewer displays
        /// it (EXIF orientation applied, full resolution), whatever was uploaded: draw it on that
        /// photo.
        pub bounding_box: [f64; 4],
        /// Absent when the server does not compute landmarks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub landmarks: Option<Landmarks>,
        pub face_metrics: Metrics,
        /// 0..1, confidence that the face is a live person (1 = live).
        pub liveness_score: f64,
    }
}

wire_model! {
    /// Recommended limits for a detection.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct DetectThresholds {
        pub underexposure: f64,
        pub overexposure: f64,
        pub sharpness: f64,
        pub liveness: f64,
    }
}

wire_model! {
    /// `POST /face/detect`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct DetectResponse {
        pub total_faces: u32,
        #[serde(default)]
        pub faces: Vec<Face>,
        pub image_metrics: Metrics,
        /// Seconds the server spent.
        pub time_taken: f64,
        pub default_thresholds: DetectThresholds,
        /// The server's human-readable message, when it sends one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
}

wire_model! {
    /// Recommended similarity limit.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct CompareThresholds {
        pub similarity: f64,
    }
}

wire_model! {
    /// `POST /face/compare`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct CompareResponse {
        /// 0..1; compare with `defaultThresholds.similarity`.
        pub similarity: f64,
        /// Seconds the server spent.
        pub time_taken: f64,
        pub default_thresholds: CompareThresholds,
        /// The server's human-readable message, when it sends one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
}

wire_model! {
    /// `POST /face/enrollment` and `PUT /face/enrollment`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct EnrollResponse {
        /// The enrolled user's token; store it to compare, update or delete later.
        pub user_token: String,
        /// Seconds the server spent.
        pub time_taken: f64,
        /// The server's human-readable message, when it sends one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
}

wire_model! {
    /// `GET /face/enrollment/list`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct ListResponse {
        pub user_tokens: Vec<String>,
        pub total_users: u32,
        /// Seconds the server spent.
        pub time_taken: f64,
        /// The server's human-readable message, when it sends one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
}

wire_model! {
    /// `DELETE /face/enrollment/{user_token}`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct DeleteResponse {
        /// Seconds the server spent.
        pub time_taken: f64,
        /// The server's human-readable message, when it sends one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
}

wire_model! {
    /// `POST /login`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct LoginResponse {
        /// The session token (JWT).
        pub token: String,
    }
}

/// The error body `{message, code, status: false}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    pub code: String,
    pub status: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"total_faces":1,"faces":[{"bounding_box":[10,20,30,40],
      "landmarks":{"right_eye":[1,2],"left_eye":[3,4],"nose":[5,6],"mouth_right":[7,8],"mouth_left":[9,10]},
      "face_metrics":{"underexposure":0.1,"overexposure":0.2,"sharpness":0.9,"color":0.05,"rotation":3.5,"future":1},
      "liveness_score":0.97,"new_field":"x"}],
      "image_metrics":{"underexposure":0.1,"overexposure":0.1,"sharpness":0.8},
      "time_taken":0.12,"default_thresholds":{"underexposure":0.5,"overexposure":0.5,"sharpness":0.3,"liveness":0.5,"extra":1},
      "status":true,"message":"ok"}"#;

    #[test]
    fn parses_full_detect_and_ignores_unknown_fields() {
        let d: DetectResponse = serde_json::from_str(FULL).unwrap();
        assert_eq!(d.total_faces, 1);
        assert_eq!(d.faces[0].bounding_box, [10.0, 20.0, 30.0, 40.0]);
        assert_eq!(d.faces[0].landmarks.as_ref().unwrap().mouth_left, [9.0, 10.0]);
        assert_eq!(d.faces[0].face_metrics.rotation, Some(3.5));
        assert_eq!(d.image_metrics.color, None);
    }

    #[test]
    fn optional_fields_may_be_missing_but_required_may_not() {
        let no_landmarks = FULL.replace(
            r#""landmarks":{"right_eye":[1,2],"left_eye":[3,4],"nose":[5,6],"mouth_right":[7,8],"mouth_left":[9,10]},"#,
            "",
        );
        let d: DetectResponse = serde_json::from_str(&no_landmarks).unwrap();
        assert!(d.faces[0].landmarks.is_none());
        assert!(serde_json::from_str::<DetectResponse>(r#"{"faces":[]}"#).is_err());
        let c: CompareResponse =
            serde_json::from_str(r#"{"similarity":0.8,"time_taken":1,"default_thresholds":{"similarity":0.7}}"#)
                .unwrap();
        assert_eq!(c.default_thresholds.similarity, 0.7);
    }
}

// The calls' results: for each, its tag in a completion batch, its TypeScript name and doc, how
// many images it reports and its default message (`call_results!`, results.rs). A new call's
// result is one line here, beside its model.
crate::call_results! {
    1 Detect(DetectResponse) "DetectResult" "Result of `detect`.", uploads 1, message "Face detection completed";
    2 Compare(CompareResponse) "CompareResult" "Result of `compare`.", uploads 2, message "Face comparison completed";
    3 Enroll(EnrollResponse) "EnrollResult" "Result of `enroll` and `enrollment.update`.", uploads 1, message "Enrollment completed";
    4 List(ListResponse) "ListResult" "Result of `enrollment.list`.", uploads 0, message "Enrollment list retrieved";
    5 Delete(DeleteResponse) "DeleteResult" "Result of `enrollment.delete`.", uploads 0, message "Enrollment deleted";
    6 Login(LoginResponse) "" "Result of `login` (which resolves with its token).", uploads 0, message "Logged in";
}
