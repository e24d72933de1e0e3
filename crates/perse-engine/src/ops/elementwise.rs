//! Residual additions.
//!
//! `add` is ONNX `Add` on equal shapes (CenterFace). `add_pad` is dlib's `add_prev`: the
//! output has the element-wise maximum of both shapes and each input is added into the
//! top-left / first-channels corner, missing elements counting as 0. The descriptor's
//! downsampling blocks need it: a 3x3 conv path meets a 4x4 pooled path with half the channels.

use super::buffers::Buffers;
use crate::tensor::Tensor;

/// `a + b`, shapes must match.
pub(crate) fn add(a: &Tensor, b: &Tensor, buf: &mut Buffers) -> Result<Tensor, String> {
    if a.shape() != b.shape() {
        return Err(format!("cannot add shapes {:?} and {:?}", a.shape(), b.shape()));
    }
    let mut data = buf.take(a.data.len());
    for ((d, x), y) in data.iter_mut().zip(&a.data).zip(&b.data) {
        *d = x + y;
    }
    Ok(Tensor {
        c: a.c,
        h: a.h,
        w: a.w,
        data,
    })
}

/// dlib `add_prev`: zero-extended sum into the larger shape.
pub(crate) fn add_pad(a: &Tensor, b: &Tensor, buf: &mut Buffers) -> Tensor {
    let (c, h, w) = (a.c.max(b.c), a.h.max(b.h), a.w.max(b.w));
    let mut out = Tensor {
        c,
        h,
        w,
        data: buf.take_zeroed(c * h * w),
    };
    for t in [a, b] {
        for ch in 0..t.c {
            for y in 0..t.h {
                let src = &t.data[(ch * t.h + y) * t.w..][..t.w];
                let dst = &mut out.data[(ch * h + y) * w..][..t.w];
                dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_pad_zero_extends_channels_and_rows() {
        // a: 2x3x3 ones (the conv path), b: 1x4x4 twos (the pooled path).
        let a = Tensor::from_vec(2, 3, 3, vec![1.0; 18]).unwrap();
        let b = Tensor::from_vec(1, 4, 4, vec![2.0; 16]).unwrap();
        let o = add_pad(&a, &b, &mut Buffers::default());
        assert_eq!(o.shape(), [2, 4, 4]);
        assert_eq!(o.data[0], 3.0); // both
        assert_eq!(o.data[3], 2.0); // row 0 col 3: only b
        assert_eq!(o.data[16], 1.0); // channel 1, only a
        assert_eq!(o.data[16 + 15], 0.0); // channel 1, row 3 col 3: neither
    }

    #[test]
    fn add_rejects_mismatched_shapes() {
        let a = Tensor::zeros(1, 2, 2);
        let b = Tensor::zeros(1, 2, 3);
        assert!(add(&a, &b, &mut Buffers::default()).is_err());
    }
}
