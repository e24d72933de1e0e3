//! Reused buffers for the image copies made at the call boundary (`image_arg.rs`).
//!
//! A fresh 68 KB allocation per call costs more than the copy itself: malloc, first-touch
//! page faults, and a free on another thread. A client keeps a few finished buffers and
//! copies into one that is already mapped and warm. Bounded: at most [`MAX_FREE`] buffers of
//! at most [`MAX_POOLED`] bytes each are kept, so an idle client holds little memory.

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;

/// Buffers kept for reuse, per client.
const MAX_FREE: usize = 16;
/// Larger buffers are freed, not kept.
const MAX_POOLED: usize = 2 * 1024 * 1024;

#[derive(Default)]
pub struct BytePool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BytePool {
    /// A copy of `src` in a reused buffer when one is big enough. The buffer comes back to the
    /// pool when the last `Bytes` handle to it is dropped (on whichever thread).
    pub fn copy(self: &Arc<Self>, src: &[u8]) -> Bytes {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            free.iter()
                .position(|b| b.capacity() >= src.len())
                .map(|i| free.swap_remove(i))
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
        if free.len() < MAX_FREE {
            free.push(std::mem::take(&mut self.buf));
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
        let many: Vec<Bytes> = (0..40).map(|_| pool.copy(&[3u8; 10])).collect();
        drop(many);
        assert!(pool.free.lock().unwrap().len() <= MAX_FREE);
        drop(pool);
        drop(b); // the pool is gone: the buffer is simply freed
    }
}
