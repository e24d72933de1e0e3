//! Finished calls as flat data for the JS thread. Building a nested JS object through napi
//! costs a napi call and a key internalisation per property; a batch of numbers in one
//! `Float64Array` plus a string list costs a few napi calls per *batch*, and `lib/decode.js`
//! builds the result objects from object literals, which V8 creates with a fixed shape.
//!
//! Layout, per finished call: `id, tag`, then the tag's fields in the order written below.
//! Optional numbers are `NaN` when absent (the property is then omitted, as the API omits it).
//! `lib/decode.js` reads the same layout; the two files change together.

use perse_core::models::{self, Metrics};
use perse_core::Error;

/// A finished call, kept as Rust data until the JS thread encodes it.
pub enum Done {
    Failed(Error),
    Detect(models::DetectResponse),
    Compare(models::CompareResponse),
    Enroll(models::EnrollResponse),
    List(models::ListResponse),
    Delete(models::DeleteResponse),
    Login(String),
}

/// Tags shared with `lib/decode.js`.
const FAILED: f64 = 0.0;
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
        let n = &mut self.nums;
        n.push(f64::from(id));
        match done {
            Done::Failed(e) => {
                n.extend([
                    FAILED,
                    opt(e.http_status().map(f64::from)),
                    flag(e.retryable),
                    f64::from(e.attempts),
                ]);
                n.push(flag(e.cause().is_some()));
                self.strs.extend([e.code().to_string(), e.to_string()]);
                if let Some(c) = e.cause() {
                    self.strs.push(c.to_string());
                }
            }
            Done::Detect(d) => {
                let t = &d.default_thresholds;
                n.extend([DETECT, f64::from(d.total_faces), d.time_taken]);
                n.extend([t.underexposure, t.overexposure, t.sharpness, t.liveness]);
                metrics(n, &d.image_metrics);
                n.push(d.faces.len() as f64);
                for f in &d.faces {
                    n.extend(f.bounding_box);
                    n.push(f.liveness_score);
                    metrics(n, &f.face_metrics);
                    match &f.landmarks {
                        Some(l) => {
                            n.push(1.0);
                            for p in [l.right_eye, l.left_eye, l.nose, l.mouth_right, l.mouth_left] {
                                n.extend(p);
                            }
                        }
                        None => n.push(0.0),
                    }
                }
            }
            Done::Compare(c) => n.extend([COMPARE, c.similarity, c.time_taken, c.default_thresholds.similarity]),
            Done::Enroll(e) => {
                n.extend([ENROLL, e.time_taken]);
                self.strs.push(e.user_token);
            }
            Done::List(l) => {
                n.extend([LIST, f64::from(l.total_users), l.time_taken, l.user_tokens.len() as f64]);
                self.strs.extend(l.user_tokens);
            }
            Done::Delete(d) => n.extend([DELETE, d.time_taken]),
            Done::Login(token) => {
                n.push(LOGIN);
                self.strs.push(token);
            }
        }
    }
}

fn metrics(n: &mut Vec<f64>, m: &Metrics) {
    n.extend([
        m.underexposure,
        m.overexposure,
        m.sharpness,
        opt(m.color),
        opt(m.rotation),
    ]);
}

fn opt(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_front_splits_at_call_boundaries() {
        let mut b = Batch::default();
        for id in 0..5 {
            b.push(
                id,
                Done::Enroll(models::EnrollResponse {
                    user_token: format!("u{id}"),
                    time_taken: 0.5,
                }),
            );
        }
        let front = b.take_front(2);
        assert_eq!((front.len(), b.len()), (2, 3));
        assert_eq!(front.nums, [0.0, ENROLL, 0.5, 1.0, ENROLL, 0.5]);
        assert_eq!(front.strs, ["u0", "u1"]);
        assert_eq!(b.nums[0], 2.0);
        assert_eq!(b.strs, ["u2", "u3", "u4"]);
        let rest = b.take_front(2);
        assert_eq!((rest.strs.len(), b.strs.clone()), (2, vec!["u4".to_string()]));
        assert_eq!(b.take_front(8).len(), 1);
        assert_eq!(b.len(), 0);
    }
}
