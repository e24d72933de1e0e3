//! Matrix multiply through `matrixmultiply::sgemm`, split over threads, in column blocks
//! with a cache-hot epilogue.
//!
//! `matrixmultiply` is pure Rust with runtime-dispatched AVX/FMA/AVX-512 kernels on x86_64
//! and portable kernels elsewhere, so it cross-compiles to every addon target without a
//! system BLAS. It packs B (the big `k x n` activation matrix) before multiplying, and with
//! few output rows that packing costs as much as the multiply. So threads split the rows of
//! C when there are many (each thread packs all of B, cheap next to many rows), and split
//! the columns when there are few (each thread packs only its share of B, computes into its
//! own buffer, and the result is copied into C). Within a thread, C is computed in column
//! blocks of ~256 KB and the epilogue (bias, activation) runs on each block while it is in
//! cache: as a separate pass over a full-resolution output it cost 8 % of a CenterFace run.

use super::par_chunks_mut;

/// Floats of C per column block (256 KB).
const BLOCK_FLOATS: usize = 1 << 16;
/// With fewer rows than this, threads split the columns instead of the rows.
const ROW_SPLIT_MIN: usize = 64;

/// `c[m x n] = a[m x k] · b[k x n]` (all row-major, contiguous), then `post(row, segment)`
/// on every computed row segment. `threads` is taken as given (callers size it with
/// `threads_for`).
#[allow(clippy::too_many_arguments)] // a GEMM signature: sizes, three operands, threads, epilogue
pub(crate) fn gemm<P>(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], threads: usize, post: P)
where
    P: Fn(usize, &mut [f32]) + Sync,
{
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm operand sizes"
    );
    let c = &mut c[..m * n];
    if threads <= 1 || m == 0 || n < 2 * 64 {
        gemm_rows(m, k, n, a, b, 0, n, c, 0, &post);
    } else if m >= ROW_SPLIT_MIN {
        par_chunks_mut(c, n, threads, |row0, chunk| {
            let rows = chunk.len() / n;
            gemm_rows(rows, k, n, &a[row0 * k..], b, 0, n, chunk, row0, &post);
        });
    } else {
        let per = n.div_ceil(threads);
        let parts: Vec<(usize, Vec<f32>)> = std::thread::scope(|s| {
            let post = &post;
            let handles: Vec<_> = (per..n)
                .step_by(per)
                .map(|j0| s.spawn(move || column_part(m, k, n, a, b, j0, per.min(n - j0), post)))
                .collect();
            let mut parts = vec![column_part(m, k, n, a, b, 0, per, post)];
            // A worker can only panic on the operand asserts above; re-raise its own panic
            // (as `thread::scope` would) rather than add a panic site of this function's own.
            parts.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            );
            parts
        });
        for (j0, part) in parts {
            let w = part.len() / m;
            for (row, src) in c.chunks_mut(n).zip(part.chunks(w)) {
                row[j0..j0 + w].copy_from_slice(src);
            }
        }
    }
}

/// Columns `j0..j0+w` of C, computed into a fresh `m x w` buffer.
#[allow(clippy::too_many_arguments)]
fn column_part<P>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    j0: usize,
    w: usize,
    post: &P,
) -> (usize, Vec<f32>)
where
    P: Fn(usize, &mut [f32]),
{
    let mut part = vec![0.0f32; m * w];
    gemm_rows(m, k, w, a, b, j0, n, &mut part, 0, post);
    (j0, part)
}

/// Single-threaded `c[rows x w] = a[rows x k] · b[:, b0..b0+w]` (`b` has row stride `ldb`,
/// `c` has row stride `w`), in column blocks, with the epilogue (`post` gets global rows).
#[allow(clippy::too_many_arguments)]
fn gemm_rows<P>(
    rows: usize,
    k: usize,
    w: usize,
    a: &[f32],
    b: &[f32],
    b0: usize,
    ldb: usize,
    c: &mut [f32],
    row0: usize,
    post: &P,
) where
    P: Fn(usize, &mut [f32]),
{
    if rows == 0 || w == 0 {
        return;
    }
    assert!(
        a.len() >= rows * k && c.len() >= rows * w && b0 + w <= ldb,
        "gemm operand sizes"
    );
    assert!(k == 0 || b.len() >= (k - 1) * ldb + b0 + w, "gemm operand sizes");
    let nb = (BLOCK_FLOATS / rows).clamp(64, 4096).next_multiple_of(16).min(w);
    for j0 in (0..w).step_by(nb) {
        let cols = nb.min(w - j0);
        if k == 0 {
            c.chunks_mut(w).for_each(|r| r[j0..j0 + cols].fill(0.0));
        } else {
            // SAFETY: `matrixmultiply` only has a raw-pointer API. With the asserts above, the
            // largest offsets addressed are (rows-1)*k + k-1 in `a`, (k-1)*ldb + b0+j0 + cols-1
            // in `b` and (rows-1)*w + j0 + cols-1 in `c`, all inside the slices. `c` is a
            // unique borrow, and beta = 0 means its old contents are never read.
            unsafe {
                matrixmultiply::sgemm(
                    rows,
                    k,
                    cols,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr().add(b0 + j0),
                    ldb as isize,
                    1,
                    0.0,
                    c.as_mut_ptr().add(j0),
                    w as isize,
                    1,
                );
            }
        }
        for (r, row) in c.chunks_mut(w).enumerate() {
            post(row0 + r, &mut row[j0..j0 + cols]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product_with_threads_and_blocks() {
        // n > 4096: several column blocks; m >= 64: row split; m < 64: column split.
        for (m, k, n) in [(37, 29, 530), (20, 3, 5000), (70, 9, 300), (3, 0, 7), (5, 4, 1)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            for threads in [1, 2, 3] {
                let mut c = vec![f32::NAN; m * n];
                gemm(m, k, n, &a, &b, &mut c, threads, |r, seg| {
                    seg.iter_mut().for_each(|v| *v += r as f32)
                });
                for i in 0..m {
                    for j in 0..n {
                        let want: f32 = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum::<f32>() + i as f32;
                        assert_eq!(c[i * n + j], want, "({i},{j}) of {m}x{k}x{n}, {threads} threads");
                    }
                }
            }
        }
    }
}
