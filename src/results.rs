//! Results as JS sees them: the contract's camelCase keys plus the browser SDK's
//! `status: true`, `code: 'success'` and a human message.

use napi_derive::napi;
use perse_core::models;

/// Quality metrics of a face crop or of the whole image.
#[napi(object)]
pub struct Metrics {
    /// 0..1, loss of shadow detail (closer to 0 is better).
    pub underexposure: f64,
    /// 0..1, loss of highlight detail (closer to 0 is better).
    pub overexposure: f64,
    /// 0..1, absence of blur (closer to 1 is better).
    pub sharpness: f64,
    /// 0..1, colour degradation (newer API versions only).
    pub color: Option<f64>,
    /// 0..360, head rotation away from the camera (newer API versions only).
    pub rotation: Option<f64>,
}

/// Five facial points, each `[x, y]` in pixels of the uploaded image.
#[napi(object)]
pub struct Landmarks {
    #[napi(ts_type = "[number, number]")]
    pub right_eye: Vec<f64>,
    #[napi(ts_type = "[number, number]")]
    pub left_eye: Vec<f64>,
    #[napi(ts_type = "[number, number]")]
    pub nose: Vec<f64>,
    #[napi(ts_type = "[number, number]")]
    pub mouth_right: Vec<f64>,
    #[napi(ts_type = "[number, number]")]
    pub mouth_left: Vec<f64>,
}

/// One detected face.
#[napi(object)]
pub struct Face {
    /// `[x, y, width, height]` in pixels of the uploaded image.
    #[napi(ts_type = "[number, number, number, number]")]
    pub bounding_box: Vec<f64>,
    /// Absent when the server does not compute landmarks.
    pub landmarks: Option<Landmarks>,
    pub face_metrics: Metrics,
    /// 0..1, confidence that the face is a live person (1 = live).
    pub liveness_score: f64,
}

/// Recommended limits for a detection.
#[napi(object)]
pub struct DetectThresholds {
    pub underexposure: f64,
    pub overexposure: f64,
    pub sharpness: f64,
    pub liveness: f64,
}

/// Result of `detect`.
#[napi(object)]
pub struct DetectResult {
    pub status: bool,
    #[napi(ts_type = "'success'")]
    pub code: String,
    pub message: String,
    pub total_faces: u32,
    pub faces: Vec<Face>,
    pub image_metrics: Metrics,
    /// Seconds the server spent.
    pub time_taken: f64,
    pub default_thresholds: DetectThresholds,
}

/// Recommended similarity limit.
#[napi(object)]
pub struct CompareThresholds {
    pub similarity: f64,
}

/// Result of `compare`.
#[napi(object)]
pub struct CompareResult {
    pub status: bool,
    #[napi(ts_type = "'success'")]
    pub code: String,
    pub message: String,
    /// 0..1; compare with `defaultThresholds.similarity`.
    pub similarity: f64,
    pub time_taken: f64,
    pub default_thresholds: CompareThresholds,
}

/// Result of `enroll` and `enrollment.update`.
#[napi(object)]
pub struct EnrollResult {
    pub status: bool,
    #[napi(ts_type = "'success'")]
    pub code: String,
    pub message: String,
    /// The enrolled user's token; store it to compare, update or delete later.
    pub user_token: String,
    pub time_taken: f64,
}

/// Result of `enrollment.list`.
#[napi(object)]
pub struct ListResult {
    pub status: bool,
    #[napi(ts_type = "'success'")]
    pub code: String,
    pub message: String,
    pub user_tokens: Vec<String>,
    pub total_users: u32,
    pub time_taken: f64,
}

/// Result of `enrollment.delete`.
#[napi(object)]
pub struct DeleteResult {
    pub status: bool,
    #[napi(ts_type = "'success'")]
    pub code: String,
    pub message: String,
    pub time_taken: f64,
}

/// Result of `login`.
#[napi(object)]
pub struct LoginResult {
    pub status: bool,
    #[napi(ts_type = "'success'")]
    pub code: String,
    pub message: String,
    /// The session token now stored in the client.
    pub token: String,
}

fn ok(message: &str) -> (bool, String, String) {
    (true, "success".to_string(), message.to_string())
}

impl From<models::Metrics> for Metrics {
    fn from(m: models::Metrics) -> Self {
        Metrics {
            underexposure: m.underexposure,
            overexposure: m.overexposure,
            sharpness: m.sharpness,
            color: m.color,
            rotation: m.rotation,
        }
    }
}

impl From<models::Face> for Face {
    fn from(f: models::Face) -> Self {
        Face {
            bounding_box: f.bounding_box.to_vec(),
            landmarks: f.landmarks.map(|l| Landmarks {
                right_eye: l.right_eye.to_vec(),
                left_eye: l.left_eye.to_vec(),
                nose: l.nose.to_vec(),
                mouth_right: l.mouth_right.to_vec(),
                mouth_left: l.mouth_left.to_vec(),
            }),
            face_metrics: f.face_metrics.into(),
            liveness_score: f.liveness_score,
        }
    }
}

impl From<models::DetectResponse> for DetectResult {
    fn from(d: models::DetectResponse) -> Self {
        let (status, code, message) = ok("Face detection completed");
        let t = d.default_thresholds;
        DetectResult {
            status,
            code,
            message,
            total_faces: d.total_faces,
            faces: d.faces.into_iter().map(Face::from).collect(),
            image_metrics: d.image_metrics.into(),
            time_taken: d.time_taken,
            default_thresholds: DetectThresholds {
                underexposure: t.underexposure,
                overexposure: t.overexposure,
                sharpness: t.sharpness,
                liveness: t.liveness,
            },
        }
    }
}

impl From<models::CompareResponse> for CompareResult {
    fn from(c: models::CompareResponse) -> Self {
        let (status, code, message) = ok("Face comparison completed");
        CompareResult {
            status,
            code,
            message,
            similarity: c.similarity,
            time_taken: c.time_taken,
            default_thresholds: CompareThresholds {
                similarity: c.default_thresholds.similarity,
            },
        }
    }
}

impl From<models::EnrollResponse> for EnrollResult {
    fn from(e: models::EnrollResponse) -> Self {
        let (status, code, message) = ok("Enrollment completed");
        EnrollResult {
            status,
            code,
            message,
            user_token: e.user_token,
            time_taken: e.time_taken,
        }
    }
}

impl From<models::ListResponse> for ListResult {
    fn from(l: models::ListResponse) -> Self {
        let (status, code, message) = ok("Enrollment list retrieved");
        ListResult {
            status,
            code,
            message,
            user_tokens: l.user_tokens,
            total_users: l.total_users,
            time_taken: l.time_taken,
        }
    }
}

impl From<models::DeleteResponse> for DeleteResult {
    fn from(d: models::DeleteResponse) -> Self {
        let (status, code, message) = ok("Enrollment deleted");
        DeleteResult {
            status,
            code,
            message,
            time_taken: d.time_taken,
        }
    }
}

impl From<String> for LoginResult {
    fn from(token: String) -> Self {
        let (status, code, message) = ok("Logged in");
        LoginResult {
            status,
            code,
            message,
            token,
        }
    }
}
