//! The analysis cache: what an analysis of an upload found, by the SHA-256 of its bytes, so
//! that a test suite's fixture photo, sent in 50 tests, is decoded and analysed once.
//!
//! An entry holds no pixels: the faces (boxes, landmarks, quality metrics), the image's
//! metrics, and the descriptor of the largest face once a compare or enrollment computed it.
//! The engine is deterministic (the same bytes give the same faces and descriptor, whatever
//! the thread count: `perse-engine`'s tests check it), so a hit answers exactly what the
//! analysis would; only `timeTaken` differs. The cache is bounded by entries and by bytes,
//! least recently used first out, survives `reset()` (it changes no answer), and is off when
//! either bound is 0 (`analysisCacheEntries: 0` when starting the server).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use perse_core::models::Metrics;
use sha2::{Digest, Sha256};

use crate::analysis::{AnalysedFace, Descriptor};

/// Default of `LocalServerOptions::analysis_cache_entries`.
pub const DEFAULT_ENTRIES: usize = 256;
/// Default of `LocalServerOptions::analysis_cache_bytes` (an entry of a one-face photo with
/// its descriptor takes about 1 KB).
pub const DEFAULT_BYTES: usize = 16 << 20;

/// An analysis without its pixels.
#[derive(Clone, Debug)]
pub struct Analysed {
    /// Upload pixels per analysed pixel (see `analysis::Analysis::scale`).
    pub scale: (f32, f32),
    pub faces: Vec<AnalysedFace>,
    pub image_metrics: Metrics,
    /// The descriptor of the largest face, once computed (compare and enrollment ask for it,
    /// and only for a face wide enough to describe).
    pub descriptor: Option<Descriptor>,
}

impl Analysed {
    /// Roughly the bytes an entry holds, for the byte bound.
    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.faces.len() * std::mem::size_of::<AnalysedFace>()
            + self.descriptor.as_ref().map_or(0, |d| d.0.len() * 4)
            + 64
    }
}

/// The key of an upload: the SHA-256 of its bytes.
pub type Key = [u8; 32];

pub fn key(bytes: &[u8]) -> Key {
    Sha256::digest(bytes).into()
}

/// A bounded, least-recently-used map from upload to analysis.
pub struct Cache {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Entry, its last use and its size.
    map: HashMap<Key, (Arc<Analysed>, u64, usize)>,
    clock: u64,
    bytes: usize,
}

impl Cache {
    /// A cache of at most `max_entries` entries and `max_bytes` bytes; `None` (no cache)
    /// when either is 0.
    pub fn new(max_entries: usize, max_bytes: usize) -> Option<Cache> {
        (max_entries > 0 && max_bytes > 0).then(|| Cache {
            max_entries,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The analysis of the upload with this key, if kept.
    pub fn get(&self, key: &Key) -> Option<Arc<Analysed>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let (a, used, _) = inner.map.get_mut(key)?;
        *used = now;
        Some(a.clone())
    }

    /// Keeps (or replaces) the analysis of an upload, dropping the least recently used
    /// entries beyond the bounds. An entry larger than the byte bound is not kept.
    pub fn put(&self, key: Key, a: Arc<Analysed>) {
        let size = a.size();
        if size > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some((_, _, old)) = inner.map.insert(key, (a, now, size)) {
            inner.bytes -= old;
        }
        inner.bytes += size;
        while inner.map.len() > self.max_entries || inner.bytes > self.max_bytes {
            let Some(oldest) = inner.map.iter().min_by_key(|(_, (_, used, _))| *used).map(|(k, _)| *k) else {
                break;
            };
            if let Some((_, _, s)) = inner.map.remove(&oldest) {
                inner.bytes -= s;
            }
        }
    }

    /// Entries and bytes held.
    #[cfg(test)]
    pub fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(faces: usize) -> Arc<Analysed> {
        let face = AnalysedFace {
            bbox: crate::analysis::FaceBox {
                x: 1,
                y: 2,
                width: 3,
                height: 4,
                score: 0.9,
            },
            landmarks: [[0.0; 2]; 5],
            metrics: Metrics::default(),
        };
        Arc::new(Analysed {
            scale: (1.0, 1.0),
            faces: vec![face; faces],
            image_metrics: Metrics::default(),
            descriptor: None,
        })
    }

    #[test]
    fn keeps_the_most_recently_used_within_both_bounds() {
        let c = Cache::new(2, 1 << 20).unwrap();
        let (a, b, d) = (key(b"a"), key(b"b"), key(b"d"));
        c.put(a, entry(1));
        c.put(b, entry(1));
        assert!(c.get(&a).is_some()); // a is now more recent than b
        c.put(d, entry(1));
        assert!(c.get(&b).is_none(), "the least recently used entry goes first");
        assert!(c.get(&a).is_some() && c.get(&d).is_some());
        assert_eq!(c.len().0, 2);

        let small = entry(1).size();
        let c = Cache::new(100, small * 2).unwrap();
        c.put(a, entry(1));
        c.put(b, entry(1));
        c.put(d, entry(1));
        assert_eq!(c.len(), (2, small * 2), "the byte bound holds");
        c.put(a, entry(10_000));
        assert!(c.get(&a).is_none(), "an entry over the byte bound is not kept");
        assert!(
            Cache::new(0, 100).is_none() && Cache::new(10, 0).is_none(),
            "0 turns it off"
        );
    }

    #[test]
    fn keys_are_the_bytes_sha256() {
        assert_eq!(
            key(b"abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(\"abc\") starts with ba7816bf"
        );
        assert_ne!(key(b"abc"), key(b"abd"));
    }
}
