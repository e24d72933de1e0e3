//! Descriptors of the labelled faces (the server's `descriptor::describe` on its own analysis)
//! and the genuine/impostor pair statistics at the server's policy.

use perse_local::analysis::descriptor::{describe, similarity, Descriptor, MIN_FACE_PX};
use perse_local::analysis::Engine;
use perse_local::THRESHOLD_SIMILARITY;

use crate::data::Photo;
use crate::detect::Outcome;
use crate::metrics::{pct, roc_summary};
use crate::Error;

/// A labelled face with an identity, described from its matched detection.
pub struct Described {
    pub photo: usize,
    id: String,
    photo_scope: bool,
    pub held_out: bool,
    /// Width of the server's face box, pixels of the analysed image.
    pub px: u32,
    desc: Descriptor,
}

impl Described {
    /// Compare and enrollment answer `bad_image_quality` for a face this narrow.
    pub fn refused(&self) -> bool {
        self.px < MIN_FACE_PX
    }
}

/// Every matched, non-ignored labelled face with an id, outside derived copies. Each face is
/// described as the server describes the face it picks (the largest of an upload): a group
/// photo stands for uploads of each of its faces.
pub fn describe_all(engine: &Engine, photos: &[Photo], outcomes: &[Outcome]) -> Result<Vec<Described>, Error> {
    let mut faces = Vec::new();
    for (pi, (p, o)) in photos.iter().zip(outcomes).enumerate() {
        for &(ti, di) in &o.pairs {
            let (f, d) = (&p.faces[ti], &o.analysis.faces[di]);
            let Some(id) = f.id.clone().filter(|_| !f.ignore && !p.derived) else {
                continue;
            };
            faces.push(Described {
                photo: pi,
                id,
                photo_scope: f.photo_scope,
                held_out: p.split == "heldout",
                px: d.bbox.width,
                desc: describe(engine, &o.analysis.rgb, d)?,
            });
        }
    }
    Ok(faces)
}

pub struct Pair<'a> {
    pub sim: f64,
    pub a: &'a Described,
    pub b: &'a Described,
    pub genuine: bool,
}

impl Pair<'_> {
    pub fn refused(&self) -> bool {
        self.a.refused() || self.b.refused()
    }
}

/// Genuine pairs (same id, different photos, not two photos of one shot) and impostor pairs
/// (different ids, not two photo-scoped ids from different photos) among `faces`.
pub fn pairs<'a>(faces: &[&'a Described], photos: &[Photo]) -> Vec<Pair<'a>> {
    let same_shot = |a: &Described, b: &Described| {
        let (pa, pb) = (&photos[a.photo], &photos[b.photo]);
        pa.same_shot_as.as_deref() == Some(pb.name.as_str()) || pb.same_shot_as.as_deref() == Some(pa.name.as_str())
    };
    let mut out = Vec::new();
    for (i, &a) in faces.iter().enumerate() {
        for &b in &faces[i + 1..] {
            let genuine = a.id == b.id;
            let keep = match genuine {
                true => a.photo != b.photo && !same_shot(a, b),
                false => !(a.photo_scope && b.photo_scope && a.photo != b.photo),
            };
            if keep {
                out.push(Pair {
                    sim: similarity(&a.desc, &b.desc),
                    a,
                    b,
                    genuine,
                });
            }
        }
    }
    out
}

/// Rates of one row.
pub struct Rates {
    pub tpr: f64,
    pub fpr: f64,
    pub genuine: usize,
    pub impostor: usize,
}

/// Prints one table row over `pairs` (the size gate applied when `gate`); returns the rates at
/// the server's threshold (NaN without pairs).
pub fn verification_row(label: &str, faces: usize, pairs: &[Pair], gate: bool) -> Rates {
    let refused_g = pairs.iter().filter(|p| p.genuine && p.refused()).count();
    let refused_i = pairs.iter().filter(|p| !p.genuine && p.refused()).count();
    let answered = |genuine: bool| -> Vec<f64> {
        pairs
            .iter()
            .filter(|p| p.genuine == genuine && !(gate && p.refused()))
            .map(|p| p.sim)
            .collect()
    };
    let (gen, imp) = (answered(true), answered(false));
    let accepted = |v: &[f64]| v.iter().filter(|&&s| s >= THRESHOLD_SIMILARITY).count();
    let (ta, fa) = (accepted(&gen), accepted(&imp));
    let (tpr_1, eer) = roc_summary(&gen, &imp);
    let range = |v: &[f64]| match (v.iter().copied().reduce(f64::min), v.iter().copied().reduce(f64::max)) {
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
    let refused = match gate {
        true => format!("{refused_g} / {refused_i}"),
        false => "– (no gate)".into(),
    };
    println!(
        "| {label} | {faces} | {} | {} | {refused} | {} | {} | {} ({ta}/{}) | {} ({fa}) | {} | {} |",
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
    Rates {
        tpr: rate(ta, gen.len()),
        fpr: rate(fa, imp.len()),
        genuine: gen.len(),
        impostor: imp.len(),
    }
}

/// Prints the errors at the server's policy: accepted impostor pairs and rejected genuine
/// pairs among the answered ones, the worst first.
pub fn errors(label: &str, pairs: &[Pair], photos: &[Photo]) {
    let face = |f: &Described| format!("{} {} ({} px)", photos[f.photo].name, f.id, f.px);
    let mut fa: Vec<&Pair> = pairs
        .iter()
        .filter(|p| !p.genuine && !p.refused() && p.sim >= THRESHOLD_SIMILARITY)
        .collect();
    fa.sort_by(|a, b| b.sim.total_cmp(&a.sim));
    let mut fr: Vec<&Pair> = pairs
        .iter()
        .filter(|p| p.genuine && !p.refused() && p.sim < THRESHOLD_SIMILARITY)
        .collect();
    fr.sort_by(|a, b| a.sim.total_cmp(&b.sim));
    let list = |v: &[&Pair]| {
        if v.is_empty() {
            return "–".to_string();
        }
        v.iter()
            .take(3)
            .map(|p| format!("{:.3} {} vs {}", p.sim, face(p.a), face(p.b)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    println!("- {label}: {} impostor pairs accepted (worst: {})", fa.len(), list(&fa));
    println!("- {label}: {} genuine pairs rejected (worst: {})", fr.len(), list(&fr));
}
