//! The bytes of an image source, read within the input budget of the preparation options:
//! a path on tokio's blocking pool, only when it names a regular file, and never more than
//! the budget plus one byte.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::{PrepareMode, PrepareOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::image::ImageSource;

/// Bytes read from a file per step; the read checks for cancellation between steps.
const READ_CHUNK: usize = 1 << 20;

/// Refuses an input of `len` bytes that is over the budget of `opts` (the upload limit when
/// the bytes are sent unchanged, the input limit when they are decoded first). Called before
/// anything is read or copied.
pub fn check_input_size(len: u64, opts: &PrepareOptions) -> Result<()> {
    let max = opts.input_budget() as u64;
    if len <= max {
        return Ok(());
    }
    let message = match opts.mode {
        PrepareMode::Validate => format!(
            "the image is {len} bytes, over the {max}-byte upload limit (maxUploadBytes); \
             prepare: 'fit' shrinks larger images before upload"
        ),
        _ => format!("the image is {len} bytes, over the {max}-byte input limit (maxInputBytes)"),
    };
    Err(ErrorKind::FileTooLarge(message).into())
}

/// The bytes of an image source, within the input budget of `opts`. A path is read on
/// tokio's blocking pool; dropping the returned future stops the read at the next chunk.
pub async fn load(source: ImageSource, opts: &PrepareOptions) -> Result<Bytes> {
    match source {
        ImageSource::Bytes(b) => {
            check_input_size(b.len() as u64, opts)?;
            Ok(b)
        }
        ImageSource::Path(p) => {
            let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
            let flag = stop.0.clone();
            let opts = *opts;
            tokio::task::spawn_blocking(move || read_file(&p, &opts, &flag))
                .await
                .map_err(|e| Error::from(ErrorKind::Internal(format!("the file read failed: {e}"))))?
        }
    }
}

/// Sets its flag when dropped: the blocking read sees it and stops.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Opens `path` without blocking (a FIFO would block `open` until a writer came), checks that
/// it is a regular file within the budget, then reads at most budget + 1 bytes.
fn read_file(path: &Path, opts: &PrepareOptions, stop: &AtomicBool) -> Result<Bytes> {
    let shown = path.display();
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::from(ErrorKind::FileNotFound(shown.to_string())),
        _ => Error::invalid(format!("cannot read image file {shown}: {e}")),
    };
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NONBLOCK);
    let file = open.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "the image path {shown} is not a regular file (it is {}): pass the image's bytes or a stream instead",
            file_kind(&meta)
        )));
    }
    check_input_size(meta.len(), opts)?;
    let budget = opts.input_budget() as u64;
    let mut reader = std::io::Read::take(file, budget + 1);
    let mut buf = Vec::with_capacity(meta.len() as usize);
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(ErrorKind::Aborted.into());
        }
        let n = std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, READ_CHUNK as u64), &mut buf)
            .map_err(io)?;
        if n == 0 {
            break;
        }
    }
    // The file may have grown since it was measured.
    check_input_size(buf.len() as u64, opts)?;
    Ok(Bytes::from(buf))
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a plain file"
}
