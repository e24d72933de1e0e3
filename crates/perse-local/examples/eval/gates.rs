//! Enrollment's quality gates on the labelled faces the server would describe: the metrics
//! of the face crop (`analyse` measures the grey image cropped at the face box) against the
//! server's thresholds, with the exposure formula before the recalibration for comparison.

use image::GrayImage;
use perse_local::analysis::descriptor::MIN_FACE_PX;
use perse_local::{THRESHOLD_OVEREXPOSURE, THRESHOLD_SHARPNESS, THRESHOLD_UNDEREXPOSURE};

use crate::data::Photo;
use crate::detect::Outcome;

/// The exposure formula that `metrics.rs` had before (luminance <= 24 or >= 240 over 40 % of
/// the crop, or a mean under 25 % / over 75 %), kept here to print the figures before/after.
fn legacy_exposure(region: &GrayImage) -> (f64, f64) {
    let px = region.as_raw();
    if px.is_empty() {
        return (1.0, 0.0);
    }
    let n = px.len() as f64;
    let dark = px.iter().filter(|p| **p <= 24).count() as f64 / n;
    let bright = px.iter().filter(|p| **p >= 240).count() as f64 / n;
    let mean = px.iter().map(|p| *p as f64).sum::<f64>() / n / 255.0;
    let under = (dark / 0.4).max((0.25 - mean) / 0.25);
    let over = (bright / 0.4).max((mean - 0.75) / 0.25);
    (under.clamp(0.0, 1.0), over.clamp(0.0, 1.0))
}

/// Prints the gate table (`before`: the old formula on the same crop; `now`: the server's
/// `metrics::measure`, as `analyse` computed it); returns the held-out faces refused now.
pub fn gates(photos: &[Photo], outcomes: &[Outcome]) -> usize {
    #[derive(Default)]
    struct Count {
        faces: usize,
        under_before: usize,
        over_before: usize,
        under: usize,
        over: usize,
        refused_before: usize,
        refused: usize,
        blurry: usize,
    }
    let (mut rows, mut refused_list) = ([Count::default(), Count::default(), Count::default()], Vec::new());
    for (p, o) in photos.iter().zip(outcomes) {
        let gray = p.image.to_luma8();
        for &(ti, di) in &o.pairs {
            let (f, d) = (&p.faces[ti], &o.analysis.faces[di]);
            if f.ignore || d.bbox.width < MIN_FACE_PX {
                continue;
            }
            let b = d.bbox;
            let crop = image::imageops::crop_imm(&gray, b.x, b.y, b.width, b.height).to_image();
            let (ub, ob) = legacy_exposure(&crop);
            let m = &d.metrics;
            let before = ub > THRESHOLD_UNDEREXPOSURE || ob > THRESHOLD_OVEREXPOSURE;
            let now = m.underexposure > THRESHOLD_UNDEREXPOSURE || m.overexposure > THRESHOLD_OVEREXPOSURE;
            if before || now {
                refused_list.push(format!(
                    "{} {} ({}): before under {ub:.2} over {ob:.2}, now under {:.2} over {:.2}",
                    p.name,
                    f.id.as_deref().unwrap_or("?"),
                    p.split,
                    m.underexposure,
                    m.overexposure
                ));
            }
            let which = [p.split == "heldout", p.split == "dev", true];
            for (c, _) in rows.iter_mut().zip(which).filter(|(_, w)| *w) {
                c.faces += 1;
                c.under_before += usize::from(ub > THRESHOLD_UNDEREXPOSURE);
                c.over_before += usize::from(ob > THRESHOLD_OVEREXPOSURE);
                c.refused_before += usize::from(before);
                c.under += usize::from(m.underexposure > THRESHOLD_UNDEREXPOSURE);
                c.over += usize::from(m.overexposure > THRESHOLD_OVEREXPOSURE);
                c.refused += usize::from(now);
                c.blurry += usize::from(m.sharpness <= THRESHOLD_SHARPNESS);
            }
        }
    }
    println!("| faces among | faces >= {MIN_FACE_PX} px | refused before (under / over) | refused now (under / over) | sharpness <= {THRESHOLD_SHARPNESS} (informational) |");
    println!("|---|---|---|---|---|");
    for (label, c) in ["held out", "dev", "all"].iter().zip(&rows) {
        println!(
            "| {label} | {} | {} ({} / {}) | {} ({} / {}) | {} |",
            c.faces, c.refused_before, c.under_before, c.over_before, c.refused, c.under, c.over, c.blurry
        );
    }
    println!();
    if refused_list.is_empty() {
        println!("- no face refused, before or now");
    }
    for r in &refused_list {
        println!("- {r}");
    }
    rows[0].refused
}
