//! Recycled output buffers, within one graph run and across runs.
//!
//! Every layer's output is a multi-megabyte `Vec`. Allocating those from the system each time
//! cost ~20 % of a CenterFace run in page faults and zeroing (measured with `perf` on a
//! 1666x1136 photo): a fresh buffer of that size is mapped anew and faults on its first touch
//! of every page. The runner hands each dead value's buffer back here, and ops take their
//! outputs and scratch space from here. Between runs a graph keeps the free buffers in its
//! [`Pool`] (bounded in count and bytes), so that a model's steady state allocates nothing,
//! as onnxruntime's arena does. Buffers handed out by [`Buffers::take`] hold stale values:
//! every op using it writes all of its elements.

use std::sync::Mutex;

/// Free buffers, reused best-fit.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    free: Vec<Vec<f32>>,
}

/// How many free buffers to keep (the smallest go first).
const MAX_FREE: usize = 8;
/// How many bytes of free buffers to keep (enough for CenterFace's largest values at the
/// server's working sizes; more is dropped, smallest first).
const MAX_FREE_BYTES: usize = 96 << 20;

impl Buffers {
    /// A buffer of `n` values with unspecified contents: the caller must overwrite all of them.
    ///
    /// Prefers a free buffer that already holds `n` values (no writes at all), then one whose
    /// capacity suffices (only the shortfall is zeroed); otherwise allocates.
    pub fn take(&mut self, n: usize) -> Vec<f32> {
        if n == 0 {
            return Vec::new();
        }
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
            None => vec![0.0; n],
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
        self.trim();
    }

    /// Drops the smallest free buffers beyond the count and byte limits.
    fn trim(&mut self) {
        let bytes = |f: &[Vec<f32>]| f.iter().map(|v| v.capacity() * 4).sum::<usize>();
        while self.free.len() > MAX_FREE || (self.free.len() > 1 && bytes(&self.free) > MAX_FREE_BYTES) {
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

/// The free buffers a graph keeps between runs. A run takes them all and gives back what is
/// free at its end; runs at the same time on other threads start with what is left (or
/// nothing) and allocate the rest.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Mutex<Vec<Vec<f32>>>,
}

impl Pool {
    /// The kept buffers, for one run.
    pub fn take(&self) -> Buffers {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        Buffers {
            free: std::mem::take(&mut *free),
        }
    }

    /// Keeps a run's free buffers (within the limits) for the next run.
    pub fn put(&self, mut buf: Buffers) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        buf.free.append(&mut free);
        buf.trim();
        *free = buf.free;
    }
}

/// A copy of a model starts with no kept buffers.
impl Clone for Pool {
    fn clone(&self) -> Self {
        Pool::default()
    }
}
