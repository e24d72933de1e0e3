//! Reused buffers for the image copies made at the call boundary (`image_arg.rs`).
//!
//! A fresh 68 KB allocation per call costs more than the copy itself: malloc, first-touch
//! page faults, and a free on another thread. The process keeps a few finished buffers and
//! copies into one that is already mapped and warm. One pool for every client ([`shared`]),
//! so a client made per request (and never closed) holds no buffers of its own. Bounded: at
//! most [`MAX_FREE`] buffers of at most [`MAX_POOLED`] bytes each, and [`MAX_FREE_BYTES`] in
//! all. 64 covers a server's usual concurrency (the bench runs 32 calls at once; with 16 kept,
//! half of its calls allocated).

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

/// Buffers kept for reuse.
const MAX_FREE: usize = 64;
/// Larger buffers are freed, not kept.
const MAX_POOLED: usize = 2 * 1024 * 1024;
/// The free buffers' capacities add up to at most this.
const MAX_FREE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
pub struct BytePool {
    free: Mutex<Free>,
}

#[derive(Default)]
struct Free {
    bufs: Vec<Vec<u8>>,
    /// Sum of `bufs`' capacities.
    bytes: usize,
}

/// The process's pool: buffers hold no JS value, so clients in every worker thread share it.
pub fn shared() -> Arc<BytePool> {
    static SHARED: std::sync::OnceLock<Arc<BytePool>> = std::sync::OnceLock::new();
    SHARED.get_or_init(Arc::default).clone()
}

impl BytePool {
    /// A copy of `src` in a reused buffer when one is big enough. The buffer comes back to the
    /// pool when the last `Bytes` handle to it is dropped (on whichever thread).
    pub fn copy(self: &Arc<Self>, src: &[u8]) -> Bytes {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            let found = free.bufs.iter().position(|b| b.capacity() >= src.len());
            found.map(|i| {
                let b = free.bufs.swap_remove(i);
                free.bytes -= b.capacity();
                b
            })
        };
        let mut buf = reused.unwrap_or_else(|| Vec::with_capacity(src.len()));
        buf.clear();
        buf.extend_from_slice(src);
        Bytes::from_owner(Pooled {
            buf,
            pool: Arc::downgrade(self),
        })
    }
}

struct Pooled {
    buf: Vec<u8>,
    pool: Weak<BytePool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else { return };
        if self.buf.capacity() > MAX_POOLED {
            return;
        }
        let mut free = pool.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.bufs.len() < MAX_FREE && free.bytes + self.buf.capacity() <= MAX_FREE_BYTES {
            free.bytes += self.buf.capacity();
            free.bufs.push(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_bounded() {
        let pool = Arc::new(BytePool::default());
        let a = pool.copy(&[1u8; 1000]);
        let ptr = a.as_ptr();
        drop(a);
        let b = pool.copy(&[2u8; 900]);
        assert_eq!(b.as_ptr(), ptr, "the finished buffer was reused");
        assert_eq!(&b[..], &[2u8; 900][..]);
        let many: Vec<Bytes> = (0..100).map(|_| pool.copy(&[3u8; 10])).collect();
        drop(many);
        assert!(pool.free.lock().unwrap().bufs.len() <= MAX_FREE);
        let big: Vec<Bytes> = (0..10).map(|_| pool.copy(&vec![4u8; MAX_POOLED])).collect();
        drop(big);
        let free = pool.free.lock().unwrap();
        assert!(free.bytes <= MAX_FREE_BYTES, "{} bytes kept", free.bytes);
        assert_eq!(free.bytes, free.bufs.iter().map(Vec::capacity).sum::<usize>());
        drop(free);
        drop(pool);
        drop(b); // the pool is gone: the buffer is simply freed
    }
}
