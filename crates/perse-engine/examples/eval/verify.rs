//! Descriptors of the labelled faces and the genuine/impostor pair statistics.

use perse_engine::{align, distance, similarity, Descriptor, DESCRIPTOR_LEN};

use crate::data::Photo;
use crate::detect::Outcome;
use crate::metrics::{pct, roc_summary};
use crate::Error;

/// The server's default threshold on the calibrated similarity (distance 0.6).
pub const THRESHOLD: f32 = 0.7;

/// A labelled face with an identity, described from its matched detection's landmarks.
pub struct Described {
    photo: usize,
    id: String,
    photo_scope: bool,
    pub held_out: bool,
    /// Detected box width.
    pub px: f32,
    desc: [f32; DESCRIPTOR_LEN],
}

/// Every matched, non-ignored labelled face with an id, outside derived copies.
pub fn describe_all(ds: &Descriptor, photos: &[Photo], outcomes: &[Outcome]) -> Result<Vec<Described>, Error> {
    let (mut faces, mut chips) = (Vec::new(), Vec::new());
    for (pi, (p, o)) in photos.iter().zip(outcomes).enumerate() {
        for &(ti, di) in &o.pairs {
            let (f, d) = (&p.faces[ti], &o.dets[di]);
            let Some(id) = f.id.clone().filter(|_| !f.ignore && !p.derived) else {
                continue;
            };
            chips.push(align::extract_chip(&p.rgb, p.width, p.height, &d.landmarks)?.rounded());
            faces.push(Described {
                photo: pi,
                id,
                photo_scope: f.photo_scope,
                held_out: p.split == "heldout",
                px: d.bbox[2],
                desc: [0.0; DESCRIPTOR_LEN],
            });
        }
    }
    for (f, d) in faces.iter_mut().zip(ds.compute_many(&chips)?) {
        f.desc = d;
    }
    Ok(faces)
}

/// Genuine distances (same id, different photos) and impostor pairs (different ids, not two
/// photo-scoped ids from different photos) among `faces`.
fn pairs<'a>(faces: &[&'a Described]) -> (Vec<f32>, Vec<(f32, &'a Described, &'a Described)>) {
    let (mut gen, mut imp) = (Vec::new(), Vec::new());
    for (i, &a) in faces.iter().enumerate() {
        for &b in &faces[i + 1..] {
            let d = distance(&a.desc, &b.desc);
            if a.id == b.id {
                if a.photo != b.photo {
                    gen.push(d);
                }
            } else if !(a.photo_scope && b.photo_scope && a.photo != b.photo) {
                imp.push((d, a, b));
            }
        }
    }
    (gen, imp)
}

/// Prints how many accepted impostor pairs involve a face narrower than `min_px`, and the closest ones.
pub fn accepted_impostors(label: &str, faces: &[&Described], photos: &[Photo], min_px: f32) {
    let (_, mut imp) = pairs(faces);
    imp.retain(|p| similarity(p.0) >= THRESHOLD);
    imp.sort_by(|a, b| a.0.total_cmp(&b.0));
    let small = imp.iter().filter(|p| p.1.px < min_px || p.2.px < min_px).count();
    let face = |f: &Described| format!("{} {} ({:.0} px)", photos[f.photo].name, f.id, f.px);
    let closest: Vec<String> = imp
        .iter()
        .take(2)
        .map(|(d, a, b)| format!("{d:.3} {} vs {}", face(a), face(b)))
        .collect();
    println!(
        "- {label}: {} impostor pairs accepted, {small} of them with a face narrower than {min_px} px; closest: {}",
        imp.len(),
        if closest.is_empty() {
            "–".into()
        } else {
            closest.join("; ")
        }
    );
}

/// Prints one table row; returns (TPR, FPR) at the threshold (NaN without pairs).
pub fn verification_row(label: &str, faces: &[&Described]) -> (f64, f64) {
    let (gen, imp) = pairs(faces);
    let imp: Vec<f32> = imp.iter().map(|p| p.0).collect();
    let accepted = |v: &[f32]| v.iter().filter(|&&d| similarity(d) >= THRESHOLD).count();
    let (ta, fa) = (accepted(&gen), accepted(&imp));
    let (tpr_1, eer) = roc_summary(&gen, &imp);
    let range = |v: &[f32]| match (v.iter().copied().reduce(f32::min), v.iter().copied().reduce(f32::max)) {
        (Some(lo), Some(hi)) => format!("{lo:.3}–{hi:.3}"),
        _ => "–".into(),
    };
    let show = |x: f64| {
        if x.is_nan() {
            "–".into()
        } else {
            format!("{:.1}%", 100.0 * x)
        }
    };
    println!(
        "| {label} | {} | {} | {} | {} | {} | {} ({ta}/{}) | {} ({fa}) | {} | {} |",
        faces.len(),
        gen.len(),
        imp.len(),
        range(&gen),
        range(&imp),
        pct(ta, gen.len()),
        gen.len(),
        pct(fa, imp.len()),
        show(tpr_1),
        show(eer)
    );
    let rate = |n: usize, d: usize| if d == 0 { f64::NAN } else { n as f64 / d as f64 };
    (rate(ta, gen.len()), rate(fa, imp.len()))
}
