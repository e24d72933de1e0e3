//! Finished calls as flat data for the JS thread: numbers in one `Float64Array`, strings in
//! one list. Building nested JS objects through napi costs a call and a key lookup per
//! property; this costs a few napi calls per *batch*, and `lib/decode.js` builds the results
//! from object literals, which V8 creates with fixed shapes.
//!
//! Layout, per finished call: `id, tag`, then the tag's fields in the order written below.
//! Optional numbers are `NaN` when absent; an optional string is a flag number (0/1) and,
//! when 1, a string. `lib/decode.js` reads the same layout, and `__test__/layout.spec.js`
//! proves the two agree (see `samples.rs`): every field of every model, with distinct values.

use perse_core::models::{self, Metrics};
use perse_core::{Error, ImageFormat, Upload, Uploaded};

/// A finished call, kept as Rust data until it is encoded.
pub enum Done {
    Failed(Error),
    Detect(Uploaded<models::DetectResponse>),
    Compare(Uploaded<models::CompareResponse>),
    Enroll(Uploaded<models::EnrollResponse>),
    List(models::ListResponse),
    Delete(models::DeleteResponse),
    Login(String),
}

/// Tags shared with `lib/decode.js`.
pub const FAILED: f64 = 0.0;
const DETECT: f64 = 1.0;
const COMPARE: f64 = 2.0;
const ENROLL: f64 = 3.0;
const LIST: f64 = 4.0;
const DELETE: f64 = 5.0;
const LOGIN: f64 = 6.0;

/// One batch for the JS callback.
#[derive(Default)]
pub struct Batch {
    pub nums: Vec<f64>,
    pub strs: Vec<String>,
    /// Where each call's numbers and strings start.
    starts: Vec<(usize, usize)>,
}

impl Batch {
    /// Calls in the batch.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Removes and returns the first `k` calls (all of them if there are fewer).
    pub fn take_front(&mut self, k: usize) -> Batch {
        if k >= self.len() {
            return std::mem::take(self);
        }
        let (n, s) = self.starts[k];
        let rest = Batch {
            nums: self.nums.split_off(n),
            strs: self.strs.split_off(s),
            starts: self
                .starts
                .split_off(k)
                .into_iter()
                .map(|(a, b)| (a - n, b - s))
                .collect(),
        };
        std::mem::replace(self, rest)
    }

    pub fn push(&mut self, id: u32, done: Done) {
        self.starts.push((self.nums.len(), self.strs.len()));
        self.nums.push(f64::from(id));
        match done {
            Done::Failed(e) => {
                self.nums.push(FAILED);
                crate::error::encode(&e, &mut self.nums, &mut self.strs);
            }
            Done::Detect(Uploaded { result: d, uploads }) => {
                let t = &d.default_thresholds;
                self.nums.extend([DETECT, f64::from(d.total_faces), d.time_taken]);
                self.nums
                    .extend([t.underexposure, t.overexposure, t.sharpness, t.liveness]);
                self.metrics(&d.image_metrics);
                self.nums.push(d.faces.len() as f64);
                for f in &d.faces {
                    self.face(f);
                }
                self.message(d.message);
                self.uploads(&uploads, 1);
            }
            Done::Compare(Uploaded { result: c, uploads }) => {
                let t = c.default_thresholds.similarity;
                self.nums.extend([COMPARE, c.similarity, c.time_taken, t]);
                self.message(c.message);
                self.uploads(&uploads, 2);
            }
            Done::Enroll(Uploaded { result: e, uploads }) => {
                self.nums.extend([ENROLL, e.time_taken]);
                self.strs.push(e.user_token);
                self.message(e.message);
                self.uploads(&uploads, 1);
            }
            Done::List(l) => {
                let n = l.user_tokens.len() as f64;
                self.nums.extend([LIST, f64::from(l.total_users), l.time_taken, n]);
                self.strs.extend(l.user_tokens);
                self.message(l.message);
            }
            Done::Delete(d) => {
                self.nums.extend([DELETE, d.time_taken]);
                self.message(d.message);
            }
            Done::Login(token) => {
                self.nums.push(LOGIN);
                self.strs.push(token);
            }
        }
    }

    fn face(&mut self, f: &models::Face) {
        self.nums.extend(f.bounding_box);
        self.nums.push(f.liveness_score);
        self.metrics(&f.face_metrics);
        match &f.landmarks {
            Some(l) => {
                self.nums.push(1.0);
                for p in [l.right_eye, l.left_eye, l.nose, l.mouth_right, l.mouth_left] {
                    self.nums.extend(p);
                }
            }
            None => self.nums.push(0.0),
        }
    }

    fn metrics(&mut self, m: &Metrics) {
        let opt = |v: Option<f64>| v.unwrap_or(f64::NAN);
        self.nums.extend([
            m.underexposure,
            m.overexposure,
            m.sharpness,
            opt(m.color),
            opt(m.rotation),
        ]);
    }

    /// `n` optional uploads: a flag (0/1), then `width, height, format (0 JPEG, 1 PNG), bytes,
    /// scale, orientationApplied`.
    fn uploads(&mut self, uploads: &[Option<Upload>], n: usize) {
        for i in 0..n {
            match uploads.get(i).copied().flatten() {
                Some(u) => self.nums.extend([
                    1.0,
                    f64::from(u.width),
                    f64::from(u.height),
                    if u.format == ImageFormat::Png { 1.0 } else { 0.0 },
                    u.bytes as f64,
                    u.scale,
                    if u.orientation_applied { 1.0 } else { 0.0 },
                ]),
                None => self.nums.push(0.0),
            }
        }
    }

    fn message(&mut self, m: Option<String>) {
        self.nums.push(if m.is_some() { 1.0 } else { 0.0 });
        self.strs.extend(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_front_splits_at_call_boundaries() {
        let mut b = Batch::default();
        for id in 0..5 {
            let result = models::EnrollResponse {
                user_token: format!("u{id}"),
                time_taken: 0.5,
                message: None,
            };
            b.push(
                id,
                Done::Enroll(Uploaded {
                    result,
                    uploads: vec![],
                }),
            );
        }
        let front = b.take_front(2);
        assert_eq!((front.len(), b.len()), (2, 3));
        assert_eq!(front.nums, [0.0, ENROLL, 0.5, 0.0, 0.0, 1.0, ENROLL, 0.5, 0.0, 0.0]);
        assert_eq!(front.strs, ["u0", "u1"]);
        assert_eq!(b.nums[0], 2.0);
        assert_eq!(b.strs, ["u2", "u3", "u4"]);
        let rest = b.take_front(2);
        assert_eq!((rest.strs.len(), b.strs.clone()), (2, vec!["u4".to_string()]));
        assert_eq!(b.take_front(8).len(), 1);
        assert_eq!(b.len(), 0);
    }
}
