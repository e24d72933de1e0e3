//! The only value type the graphs pass around: one image-like tensor, batch 1, CHW.
//!
//! Both networks run on a single image at a time, so a batch dimension would only add
//! bookkeeping. Vectors (the pooled features, the descriptor) are `c x 1 x 1`.

/// A dense float tensor in channel-major (CHW) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(c: usize, h: usize, w: usize) -> Self {
        Tensor {
            c,
            h,
            w,
            data: vec![0.0; c * h * w],
        }
    }

    /// Wraps existing data; `None` when the length does not match the shape.
    pub fn from_vec(c: usize, h: usize, w: usize, data: Vec<f32>) -> Option<Self> {
        let n = c.checked_mul(h)?.checked_mul(w)?;
        (data.len() == n).then_some(Tensor { c, h, w, data })
    }

    /// Number of pixels per channel.
    pub fn plane(&self) -> usize {
        self.h * self.w
    }

    /// The `h x w` plane of channel `ch`.
    pub fn channel(&self, ch: usize) -> &[f32] {
        let p = self.plane();
        &self.data[ch * p..(ch + 1) * p]
    }

    /// `(c, h, w)` for error messages and shape checks.
    /// An error (for the graph to name the layer) unless the tensor has `c` channels.
    pub fn expect_channels(&self, c: usize) -> Result<(), String> {
        if self.c == c {
            return Ok(());
        }
        Err(format!("expects {c} input channels, got shape {:?}", self.shape()))
    }

    pub fn shape(&self) -> [usize; 3] {
        [self.c, self.h, self.w]
    }
}
