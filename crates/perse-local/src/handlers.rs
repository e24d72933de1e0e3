//! The image endpoints: detect, compare and enrollment (create and update), on real analysis
//! (`analysis/`), with the contract's error codes.

use std::sync::Arc;
use std::time::Instant;

use axum::response::Response;
use bytes::Bytes;
use perse_core::models::*;

use crate::analysis::descriptor::MIN_FACE_PX;
use crate::analysis::{self, descriptor};
use crate::cache::{self, Analysed};
use crate::form::Form;
use crate::reply::{self, secs, token_not_found, Reject};
use crate::state::{lock, State};
use crate::timing::Timings;

type Shared = Arc<State>;

/// Thresholds that classify the bundled fixtures (see docs/local-server.md, "What it computes").
pub const THRESHOLD_UNDEREXPOSURE: f64 = 0.5;
pub const THRESHOLD_OVEREXPOSURE: f64 = 0.5;
pub const THRESHOLD_SHARPNESS: f64 = 0.15;
pub const THRESHOLD_LIVENESS: f64 = 0.5;
pub const THRESHOLD_SIMILARITY: f64 = 0.7;

/// What a call needs of an image: its faces and metrics, or the descriptor of its largest
/// face too (compare, enrollment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Faces,
    Descriptor,
}

/// The analysis of an upload: from the cache when it holds what `need` asks for, otherwise
/// decoded and analysed on the blocking pool (detection is CPU work), then cached. An upload
/// over `ANALYSIS_MAX_PIXELS` is decoded at a reduced scale, and concurrent analyses share
/// the server's `MEMORY_BUDGET_BYTES`: memory stays bounded whatever the uploads and the core
/// count. Stages go to `t` (see `timing.rs`).
async fn analyse(state: &Shared, bytes: Bytes, need: Need, t: &mut Timings) -> Result<Arc<Analysed>, Reject> {
    let started = Instant::now();
    let key = state.cache.as_ref().map(|c| (c, cache::key(&bytes)));
    if let Some((c, k)) = &key {
        let hit = c
            .get(k)
            .filter(|a| need == Need::Faces || a.descriptor.is_some() || !describable(a));
        if let Some(a) = hit {
            t.lap("cache", started);
            return Ok(a);
        }
    }
    let started = key.as_ref().map_or(started, |_| t.lap("cache", started));
    let (w, h) = analysis::dimensions(&bytes).map_err(|m| Reject::new(415, "invalid_file_type", &m))?;
    let factor = analysis::shrink_factor(w, h);
    let closing = |_| Reject::new(503, "server_error", "the server is shutting down");
    let kib = (analysis::memory_estimate(w, h).min(analysis::MEMORY_BUDGET_BYTES) / 1024).max(1) as u32;
    let _memory = state.memory_budget.acquire_many(kib).await.map_err(closing)?;
    let _slot = state.analysis_slots.acquire().await.map_err(closing)?;
    t.lap("queue", started);
    let st = state.clone();
    let (a, stages) = tokio::task::spawn_blocking(move || {
        let _running = st.engine.admit();
        let mut t = Timings::default();
        let at = Instant::now();
        let (rgb, scale) =
            analysis::decode_shrunk(&bytes, factor).map_err(|m| Reject::new(415, "invalid_file_type", &m))?;
        let at = t.lap("decode", at);
        let full = analysis::analyse_rgb(&st.engine, rgb, scale).map_err(|m| Reject::new(500, "server_error", &m))?;
        let at = t.lap("detect", at);
        let mut a = Analysed {
            scale: full.scale,
            faces: full.faces,
            image_metrics: full.image_metrics,
            descriptor: None,
        };
        if need == Need::Descriptor && describable(&a) {
            let chip = descriptor::chip(&full.rgb, &a.faces[0]).map_err(|m| Reject::new(500, "server_error", &m))?;
            let at = t.lap("align", at);
            a.descriptor =
                Some(descriptor::compute(&st.engine, &chip).map_err(|m| Reject::new(500, "server_error", &m))?);
            t.lap("describe", at);
        }
        Ok::<_, Reject>((Arc::new(a), t))
    })
    .await
    .map_err(|_| Reject::new(500, "server_error", "image analysis failed"))??;
    t.merge(&stages);
    if let Some((c, k)) = key {
        c.put(k, a.clone());
    }
    Ok(a)
}

/// The width of a face in the upload's pixels, as the caller sees the photo.
fn upload_width(a: &Analysed, f: &analysis::AnalysedFace) -> u32 {
    (f.bbox.width as f32 * a.scale.0).round() as u32
}

/// The largest face is wide enough to describe (compare and enrollment refuse it otherwise).
fn describable(a: &Analysed) -> bool {
    a.faces.first().is_some_and(|f| upload_width(a, f) >= MIN_FACE_PX)
}

/// A store write, off the runtime: with a data directory it commits to disk (an fsync), and
/// the runtime is the one the process's SDK clients use too.
pub async fn store_write<T: Send + 'static>(
    state: &Shared,
    write: impl FnOnce(&mut crate::store::Store) -> Result<T, String> + Send + 'static,
) -> Result<T, Reject> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || write(&mut lock(&st.store)))
        .await
        .map_err(|_| Reject::new(500, "server_error", "the enrollment store failed"))?
        .map_err(|m| Reject::new(500, "server_error", &m))
}

fn thresholds() -> DetectThresholds {
    DetectThresholds {
        underexposure: THRESHOLD_UNDEREXPOSURE,
        overexposure: THRESHOLD_OVEREXPOSURE,
        sharpness: THRESHOLD_SHARPNESS,
        liveness: THRESHOLD_LIVENESS,
    }
}

pub async fn detect(state: &Shared, form: &Form, started: Instant) -> Result<Response, Reject> {
    form.require_consent()?;
    let mut t = Timings::default();
    let a = analyse(state, form.image("image_file")?, Need::Faces, &mut t).await?;
    if a.faces.is_empty() && state.no_face_error {
        return Err(no_face(&a, "image_file"));
    }
    let replying = Instant::now();
    let (sx, sy) = (f64::from(a.scale.0), f64::from(a.scale.1));
    let faces: Vec<Face> = a
        .faces
        .iter()
        .map(|f| Face {
            bounding_box: [
                (f.bbox.x as f64 * sx).round(),
                (f.bbox.y as f64 * sy).round(),
                (f.bbox.width as f64 * sx).round(),
                (f.bbox.height as f64 * sy).round(),
            ],
            landmarks: Some(landmarks(&f.landmarks, a.scale)),
            face_metrics: f.metrics.clone(),
            liveness_score: state.liveness,
        })
        .collect();
    let body = DetectResponse {
        total_faces: faces.len() as u32,
        faces,
        image_metrics: a.image_metrics.clone(),
        time_taken: secs(started),
        default_thresholds: thresholds(),
        message: None,
    };
    let mut r = reply::ok(&body, "Face detection completed");
    t.send(&mut r, started, replying);
    Ok(r)
}

/// The API's landmarks, named from the person's point of view (as the contract's
/// `right_eye`/`mouth_right`): their right eye is the one on the image's left.
fn landmarks(p: &[[f32; 2]; 5], (sx, sy): (f32, f32)) -> Landmarks {
    let at = |i: usize| [f64::from(p[i][0] * sx).round(), f64::from(p[i][1] * sy).round()];
    Landmarks {
        right_eye: at(0),
        left_eye: at(1),
        nose: at(2),
        mouth_right: at(3),
        mouth_left: at(4),
    }
}

/// The descriptor of the largest face; `no_face_detected` with the image metrics as a hint,
/// or `bad_image_quality` when that face is too small to tell people apart.
fn face_descriptor(a: &Analysed, field: &str) -> Result<descriptor::Descriptor, Reject> {
    match a.faces.first() {
        Some(f) if upload_width(a, f) < MIN_FACE_PX => Err(Reject::new(
            422,
            "bad_image_quality",
            &format!(
                "the largest face in {field} is {} px wide: compare and enrollment need a face at least {MIN_FACE_PX} px wide (200 px works best)",
                upload_width(a, f)
            ),
        )),
        Some(_) => a
            .descriptor
            .clone()
            .ok_or_else(|| Reject::new(500, "server_error", "the face was not described")),
        None => Err(no_face(a, field)),
    }
}

/// `no_face_detected` for `field`, with the image metrics as a hint.
fn no_face(a: &Analysed, field: &str) -> Reject {
    let m = &a.image_metrics;
    Reject::new(
        422,
        "no_face_detected",
        &format!(
            "no face detected in {field} (image underexposure {:.2}, overexposure {:.2}, sharpness {:.2})",
            m.underexposure, m.overexposure, m.sharpness
        ),
    )
}

pub async fn compare(state: &Shared, form: &Form, started: Instant) -> Result<Response, Reject> {
    form.require_consent()?;
    // Both sides at once: on two cores, the two images' analyses run side by side.
    let (mut t1, mut t2) = (Timings::default(), Timings::default());
    let (one, two) = tokio::join!(side(state, form, 1, &mut t1), side(state, form, 2, &mut t2));
    let (one, two) = (one?, two?);
    t1.merge(&t2);
    let replying = Instant::now();
    let body = CompareResponse {
        similarity: descriptor::similarity(&one, &two),
        time_taken: secs(started),
        default_thresholds: CompareThresholds {
            similarity: THRESHOLD_SIMILARITY,
        },
        message: None,
    };
    let mut r = reply::ok(&body, "Face comparison completed");
    t1.send(&mut r, started, replying);
    Ok(r)
}

/// The descriptor of side `i` of a compare: an enrolled user's, or the upload's.
async fn side(state: &Shared, form: &Form, i: usize, t: &mut Timings) -> Result<descriptor::Descriptor, Reject> {
    let token_field = format!("image_token{i}");
    let file_field = format!("image_file{i}");
    match form.text(&token_field) {
        Some(tok) if form.get(&file_field).is_none() => lock(&state.store).get(&tok).ok_or_else(token_not_found),
        _ => face_descriptor(
            &*analyse(state, form.image(&file_field)?, Need::Descriptor, t).await?,
            &file_field,
        ),
    }
}

pub async fn enroll(state: &Shared, form: &Form, update: bool, started: Instant) -> Result<Response, Reject> {
    form.require_consent()?;
    let existing = match update {
        true => {
            let t = form
                .text("user_token")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Reject::new(400, "form_key_missing", "the form field 'user_token' is missing"))?;
            if !lock(&state.store).contains(&t) {
                return Err(token_not_found());
            }
            Some(t)
        }
        false => None,
    };
    let mut t = Timings::default();
    let a = analyse(state, form.image("image_file")?, Need::Descriptor, &mut t).await?;
    let m = a.faces.first().map(|f| &f.metrics).unwrap_or(&a.image_metrics);
    if m.underexposure > THRESHOLD_UNDEREXPOSURE {
        return Err(Reject::new(
            422,
            "image_underexposed",
            "the image is too dark to enroll",
        ));
    }
    if m.overexposure > THRESHOLD_OVEREXPOSURE {
        return Err(Reject::new(
            422,
            "image_overexposed",
            "the image is too bright to enroll",
        ));
    }
    let d = face_descriptor(&a, "image_file")?;
    let token = existing.unwrap_or_else(|| format!("usr_{:032x}", rand::random::<u128>()));
    let key = token.clone();
    store_write(state, move |s| s.put(&key, d)).await?;
    let replying = Instant::now();
    let body = EnrollResponse {
        user_token: token,
        time_taken: secs(started),
        message: None,
    };
    let mut r = reply::ok(
        &body,
        if update {
            "Enrollment updated"
        } else {
            "Enrollment completed"
        },
    );
    t.send(&mut r, started, replying);
    Ok(r)
}
