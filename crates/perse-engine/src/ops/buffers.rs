//! Recycled output buffers for one graph run.
//!
//! Every layer's output is a fresh multi-megabyte `Vec`. Allocating those from the system
//! each time cost ~20 % of a CenterFace run in page faults and zeroing (measured with
//! `perf` on a 1666x1136 photo). The runner hands each dead value's buffer back here, and
//! ops take their outputs and scratch space from here. Buffers handed out by [`take`]
//! hold stale values: every op using it writes all of its elements.
//!
//! [`take`]: Buffers::take

/// Free buffers, reused best-fit.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    free: Vec<Vec<f32>>,
}

/// How many free buffers to keep (the rest are dropped).
const MAX_FREE: usize = 4;

impl Buffers {
    /// A buffer of `n` values with unspecified contents: the caller must overwrite all of them.
    ///
    /// Prefers a free buffer that already holds `n` values (no writes at all), then one whose
    /// capacity suffices (only the shortfall is zeroed); otherwise allocates.
    pub fn take(&mut self, n: usize) -> Vec<f32> {
        let cost = |v: &Vec<f32>| (n.saturating_sub(v.len()), v.capacity());
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= n)
            .min_by_key(|(_, v)| cost(v));
        match best.map(|(i, _)| i) {
            Some(i) => {
                let mut v = self.free.swap_remove(i);
                if v.len() >= n {
                    v.truncate(n);
                } else {
                    v.resize(n, 0.0);
                }
                v
            }
            None => {
                // Nothing fits: the network is still widening. Release the free buffers rather
                // than hold them through the peak (they would be reused only after it).
                self.free.clear();
                vec![0.0; n]
            }
        }
    }

    /// A buffer of `n` zeros.
    pub fn take_zeroed(&mut self, n: usize) -> Vec<f32> {
        let mut v = self.take(n);
        v.fill(0.0);
        v
    }

    /// Returns a buffer for reuse.
    pub fn give(&mut self, v: Vec<f32>) {
        if v.capacity() == 0 {
            return;
        }
        self.free.push(v);
        if self.free.len() > MAX_FREE {
            let smallest = self
                .free
                .iter()
                .enumerate()
                .min_by_key(|(_, v)| v.capacity())
                .map_or(0, |(i, _)| i);
            self.free.swap_remove(smallest);
        }
    }
}
