//! Matching and ROC summaries, as in `engine/evaluate.py`.

use perse_local::analysis::FaceBox;

/// Minimum IoU for a detection to count as a labelled face (`IOU_MATCH` in evaluate.py).
pub const IOU_MATCH: f32 = 0.4;

/// `[x1, y1, x2, y2]` of a server face box.
pub fn corners(b: &FaceBox) -> [f32; 4] {
    let (x, y) = (b.x as f32, b.y as f32);
    [x, y, x + b.width as f32, y + b.height as f32]
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let inter = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy one-to-one matching, highest IoU first, IoU >= [`IOU_MATCH`]: `(truth, detection)` pairs.
pub fn match_greedy(truth: &[[f32; 4]], dets: &[[f32; 4]]) -> Vec<(usize, usize)> {
    let mut cand: Vec<(f32, usize, usize)> = truth
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| dets.iter().enumerate().map(move |(di, d)| (iou(t, d), ti, di)))
        .filter(|c| c.0 >= IOU_MATCH)
        .collect();
    cand.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut used_t, mut used_d) = (vec![false; truth.len()], vec![false; dets.len()]);
    let mut pairs = Vec::new();
    for (_, ti, di) in cand {
        if !used_t[ti] && !used_d[di] {
            used_t[ti] = true;
            used_d[di] = true;
            pairs.push((ti, di));
        }
    }
    pairs
}

/// All 5 landmarks inside the face's own box as the server reports it (edges included).
pub fn landmarks_inside(b: &FaceBox, landmarks: &[[f32; 2]; 5]) -> bool {
    let c = corners(b);
    landmarks
        .iter()
        .all(|p| p[0] >= c[0] && p[0] <= c[2] && p[1] >= c[1] && p[1] <= c[3])
}

/// Median (mean of the two middle values for an even count); NaN when empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `(TPR at FPR <= 1%, EER)` over similarity thresholds, accepting `s >= t` for every `t` in
/// the observed similarities and +inf (evaluate.py's `roc_summary`, on similarities instead
/// of distances). NaN when a side is empty.
pub fn roc_summary(genuine: &[f64], impostor: &[f64]) -> (f64, f64) {
    if genuine.is_empty() || impostor.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (gen, imp) = (sorted(genuine), sorted(impostor));
    let mut ths: Vec<f64> = gen.iter().chain(&imp).copied().chain([f64::INFINITY]).collect();
    ths.sort_by(f64::total_cmp);
    ths.dedup();
    let at_least = |v: &[f64], t: f64| (v.len() - v.partition_point(|&s| s < t)) as f64 / v.len() as f64;
    let (mut tpr_at_1, mut best) = (0.0, (f64::INFINITY, f64::NAN));
    for t in ths {
        let (tpr, fpr) = (at_least(&gen, t), at_least(&imp, t));
        if fpr <= 0.01 {
            tpr_at_1 = f64::max(tpr_at_1, tpr);
        }
        let gap = ((1.0 - tpr) - fpr).abs();
        if gap < best.0 {
            best = (gap, ((1.0 - tpr) + fpr) / 2.0);
        }
    }
    (tpr_at_1, best.1)
}

/// `num/den` as a percentage with one decimal, `–` when `den` is 0.
pub fn pct(num: usize, den: usize) -> String {
    if den == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * num as f64 / den as f64)
    }
}
