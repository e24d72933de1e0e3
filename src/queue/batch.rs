//! Finished calls as flat data for the JS thread: numbers in one `Float64Array`, strings in
//! one list. Building nested JS objects through napi costs a call and a key lookup per
//! property; this costs a few napi calls per *batch*, and `lib/decode.js` builds the results
//! from object literals, which V8 creates with fixed shapes.
//!
//! Layout, per finished call: `id`, then the outcome as perse-core's `layout.rs` writes it (a
//! result's tag and fields, or the failure tag and a `Failure`); the reader,
//! `lib/decode.generated.js`, is generated from the same declarations (`npm run generate`).

use perse_core::layout::Sink;
use perse_core::{CallResult, Error, Failure};

/// A finished call, kept as Rust data until it is encoded.
pub enum Done {
    Failed(Failure),
    Ok(CallResult),
}

impl From<CallResult> for Done {
    fn from(r: CallResult) -> Self {
        Done::Ok(r)
    }
}

impl From<Error> for Done {
    fn from(e: Error) -> Self {
        Done::Failed(Failure::from(&e))
    }
}

impl Done {
    /// With the call's request id and trace (perse-core's `CallLog`).
    pub fn with_log(self, log: &perse_core::CallLog) -> Self {
        match self {
            Done::Failed(f) => Done::Failed(f.with_facts(log.request_id(), log.trace())),
            Done::Ok(r) => Done::Ok(r.with_facts(log.request_id(), log.trace())),
        }
    }
}

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
        let mut out = Sink {
            nums: &mut self.nums,
            strs: &mut self.strs,
        };
        match done {
            Done::Failed(f) => f.put(&mut out),
            Done::Ok(r) => r.put(&mut out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perse_core::{models, Uploaded};

    #[test]
    fn take_front_splits_at_call_boundaries() {
        let mut b = Batch::default();
        for id in 0..5 {
            let result = models::EnrollResponse {
                user_token: format!("u{id}"),
                time_taken: 0.5,
                message: None,
            };
            b.push(id, Done::Ok(CallResult::Enroll(Uploaded::new(result, vec![None]))));
        }
        let front = b.take_front(2);
        assert_eq!((front.len(), b.len()), (2, 3));
        // id, tag 3 (enroll), time_taken, no message, no upload, the envelope (its request id
        // is a string, empty here; no trace); then the next call.
        assert_eq!(front.nums, [0.0, 3.0, 0.5, 0.0, 0.0, 0.0, 1.0, 3.0, 0.5, 0.0, 0.0, 0.0]);
        assert_eq!(front.strs, ["u0", "", "u1", ""]);
        assert_eq!(b.nums[0], 2.0);
        assert_eq!(b.strs, ["u2", "", "u3", "", "u4", ""]);
        let rest = b.take_front(2);
        assert_eq!(
            (rest.strs.len(), b.strs.clone()),
            (4, vec!["u4".to_string(), String::new()])
        );
        assert_eq!(b.take_front(8).len(), 1);
        assert_eq!(b.len(), 0);
    }
}
