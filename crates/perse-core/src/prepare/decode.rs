//! Decode jobs and the gate that bounds them: a `Fit` that must decode waits for a decode
//! slot and its share of a process-wide memory budget, then runs on tokio's blocking pool.

use bytes::Bytes;
use image::metadata::Orientation;

use super::shrink::dct_scale;
use super::{plan, PrepareOptions, Prepared, Source};
use crate::error::{ErrorKind, Result};
use crate::image::ImageFormat;

/// Memory that image decoding may use at once in this process, across all clients and calls.
/// A call whose estimate is larger than the whole budget runs alone.
pub const DECODE_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

/// Bounds the decode work in flight: a slot per core (more would only queue on the blocking
/// pool, each holding its pixels) and the memory budget, in KiB permits. Process-wide on
/// purpose: memory is a property of the process, not of one client or one JS realm.
pub(super) struct DecodeGate {
    pub(super) slots: tokio::sync::Semaphore,
    pub(super) memory: tokio::sync::Semaphore,
}

pub(super) fn gate() -> &'static DecodeGate {
    static GATE: std::sync::OnceLock<DecodeGate> = std::sync::OnceLock::new();
    GATE.get_or_init(|| DecodeGate {
        slots: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
        memory: tokio::sync::Semaphore::new((DECODE_BUDGET_BYTES / 1024) as usize),
    })
}

/// Loads an image and prepares it for upload. Header checks run inline; decoding waits for a
/// decode slot and its share of the memory budget, then runs on tokio's blocking pool.
pub async fn prepare_source(src: crate::image::ImageSource, opts: PrepareOptions) -> Result<Prepared> {
    let bytes = super::input::load(src, &opts).await?;
    let job = match plan(bytes, &opts)? {
        Plan::Ready(p) => return Ok(p),
        Plan::Decode(job) => job,
    };
    let closed = |_| crate::Error::from(ErrorKind::Internal("the decode gate is closed".into()));
    let kib = (job.memory_estimate().min(DECODE_BUDGET_BYTES) / 1024).max(1) as u32;
    let _memory = gate().memory.acquire_many(kib).await.map_err(closed)?;
    let _slot = gate().slots.acquire().await.map_err(closed)?;
    tokio::task::spawn_blocking(move || job.run())
        .await
        .map_err(|e| crate::Error::from(ErrorKind::Internal(format!("image preparation failed: {e}"))))?
}

/// What [`plan`] decided: the bytes go as they are, or they must be decoded.
pub enum Plan {
    Ready(Prepared),
    Decode(DecodeJob),
}

/// A decode, orient, resize and encode still to run (CPU-bound: run it off the JS thread).
pub struct DecodeJob {
    bytes: Bytes,
    source: Source,
    orientation: Orientation,
    opts: PrepareOptions,
}

impl DecodeJob {
    pub(super) fn new(bytes: Bytes, source: Source, orientation: Orientation, opts: PrepareOptions) -> Self {
        DecodeJob {
            bytes,
            source,
            orientation,
            opts,
        }
    }

    /// Bytes the job may hold at its peak: the decoded pixels (after shrinking on load), their
    /// conversion to RGB, and the resized copies. An estimate on the safe side.
    pub fn memory_estimate(&self) -> u64 {
        let (w, h) = (
            u64::from(self.source.stored_width),
            u64::from(self.source.stored_height),
        );
        let target = w.max(h).min(u64::from(self.opts.max_dimension.clamp(16, 16_384)));
        let long = w.max(h).max(1);
        let decoded = match self.source.format {
            ImageFormat::Jpeg => {
                let scale = dct_scale(long, target);
                w.div_ceil(scale) * h.div_ceil(scale) * 6
            }
            // Shrunk on load (shrink.rs): the RGB result and a row of sums.
            ImageFormat::Png if long >= 2 * target => {
                let f = long / target;
                w.div_ceil(f) * h.div_ceil(f) * 3 + w * 16
            }
            _ => w * h * 11, // up to 16-bit RGBA (8 bytes) plus the RGB copy
        };
        let out = (w * target / long) * (h * target / long) * 9;
        decoded + out
    }

    pub fn run(self) -> Result<Prepared> {
        super::fit::fit(&self.bytes, self.source, self.orientation, &self.opts)
    }
}
