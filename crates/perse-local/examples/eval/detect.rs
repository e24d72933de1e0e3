//! The server's analysis (`perse_local::analysis::analyse`: detection at the server's settings,
//! then the metrics of every face crop) on every photo, scored against the labels.

use std::time::Instant;

use perse_local::analysis::{analyse, Analysis, Engine};

use crate::data::Photo;
use crate::metrics::{corners, landmarks_inside, match_greedy, median, pct};
use crate::Error;

pub const SOLVAY: &str = "solvay1927.png";
/// Table label and `split` value (`None`: every photo).
const SPLITS: [(&str, Option<&str>); 3] = [("held out", Some("heldout")), ("dev", Some("dev")), ("all", None)];

/// The server's analysis of one photo against its labels.
pub struct Outcome {
    pub analysis: Analysis,
    /// `(labelled face, detected face)`, ignored faces included.
    pub pairs: Vec<(usize, usize)>,
    labelled: usize,
    tp: usize,
    fp: usize,
    /// Wall time of `analyse` (detection + the metrics of the image and of every face).
    ms: f64,
}

/// Sums over one split.
#[derive(Default)]
pub struct Totals {
    pub labelled: usize,
    pub tp: usize,
    pub fp: usize,
    pub solvay: Option<(usize, usize)>,
    pub inside: usize,
    pub dets: usize,
    /// Median over every photo, and over the photos that are not 150x150 chips (the target's).
    pub median_ms: f64,
    pub median_photo_ms: f64,
}

pub fn analyse_all(engine: &Engine, photos: &[Photo]) -> Result<Vec<Outcome>, Error> {
    let mut out = Vec::new();
    for p in photos {
        let t = Instant::now();
        let analysis = analyse(engine, &p.image)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let truth: Vec<[f32; 4]> = p.faces.iter().map(|f| f.bbox).collect();
        let dets: Vec<[f32; 4]> = analysis.faces.iter().map(|f| corners(&f.bbox)).collect();
        let pairs = match_greedy(&truth, &dets);
        let tp = pairs.iter().filter(|(t, _)| !p.faces[*t].ignore).count();
        let labelled = p.faces.iter().filter(|f| !f.ignore).count();
        let fp = dets.len() - pairs.len();
        out.push(Outcome {
            analysis,
            pairs,
            labelled,
            tp,
            fp,
            ms,
        });
    }
    Ok(out)
}

/// Prints one table row per split; returns the held-out totals.
pub fn detection_rows(photos: &[Photo], outcomes: &[Outcome]) -> Totals {
    let mut held_out = Totals::default();
    for (name, split) in SPLITS {
        let sel: Vec<usize> = (0..photos.len())
            .filter(|&i| split.is_none_or(|s| photos[i].split == s))
            .collect();
        let sum = |f: &dyn Fn(&Outcome) -> usize| sel.iter().map(|&i| f(&outcomes[i])).sum::<usize>();
        let solvay = sel.iter().find(|&&i| photos[i].name == SOLVAY).map(|&i| &outcomes[i]);
        let t = Totals {
            labelled: sum(&|o| o.labelled),
            tp: sum(&|o| o.tp),
            fp: sum(&|o| o.fp),
            solvay: solvay.map(|o| (o.tp, o.labelled)),
            inside: sum(&|o| {
                o.analysis
                    .faces
                    .iter()
                    .filter(|f| landmarks_inside(&f.bbox, &f.landmarks))
                    .count()
            }),
            dets: sum(&|o| o.analysis.faces.len()),
            median_ms: median(sel.iter().map(|&i| outcomes[i].ms).collect()),
            median_photo_ms: median(
                sel.iter()
                    .filter(|&&i| photos[i].kind != "chip")
                    .map(|&i| outcomes[i].ms)
                    .collect(),
            ),
        };
        let solvay_cell = t.solvay.map_or("–".into(), |(tp, n)| format!("{tp}/{n}"));
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {solvay_cell} | {}/{} | {:.0} / {:.0} |",
            sel.len(),
            t.labelled,
            t.dets,
            t.tp,
            pct(t.tp, t.labelled),
            pct(t.tp, t.tp + t.fp),
            t.inside,
            t.dets,
            t.median_photo_ms,
            t.median_ms,
        );
        if split == Some("heldout") {
            held_out = t;
        }
    }
    held_out
}

/// Missed labelled faces and false detections, for the notes under the table.
pub fn misses(photos: &[Photo], outcomes: &[Outcome]) -> Vec<String> {
    let mut notes = Vec::new();
    for (p, o) in photos.iter().zip(outcomes) {
        let missed = (0..p.faces.len())
            .filter(|&t| !p.faces[t].ignore && !o.pairs.iter().any(|&(ti, _)| ti == t))
            .count();
        let fp = o.fp;
        if missed > 0 || fp > 0 {
            notes.push(format!("{} ({}): {missed} missed, {fp} false", p.name, p.split));
        }
    }
    notes
}
