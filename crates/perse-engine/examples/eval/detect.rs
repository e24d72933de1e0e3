//! Detection at one setting on every photo, scored against the labels.

use std::time::Instant;

use perse_engine::{CenterFace, DetectOptions, Detection};

use crate::data::Photo;
use crate::metrics::{landmarks_inside, match_greedy, median, pct};
use crate::Error;

const SOLVAY: &str = "solvay1927.png";
/// Table label and `split` value (`None`: every photo).
const SPLITS: [(&str, Option<&str>); 3] = [("held out", Some("heldout")), ("dev", Some("dev")), ("all", None)];

/// `MAX_SIDE[/MIN_FACE]`, `full` for no downscale.
#[derive(Clone, Copy)]
pub struct Setting {
    max_side: Option<u32>,
    min_face: Option<f32>,
}

impl Setting {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || format!("bad setting `{s}`: MAX_SIDE[/MIN_FACE] (e.g. 1024/20, 800, full)");
        let (side, min_face) = s.split_once('/').map_or((s, None), |(a, b)| (a, Some(b)));
        Ok(Setting {
            max_side: if side == "full" {
                None
            } else {
                Some(side.parse().map_err(|_| bad())?)
            },
            min_face: min_face.map(str::parse).transpose().map_err(|_| bad())?,
        })
    }

    pub fn label(&self) -> String {
        let side = self.max_side.map_or("full".into(), |s| s.to_string());
        side + &self.min_face.map_or(String::new(), |m| format!(", min_face {m}"))
    }
}

/// Detection on one photo against its labels.
pub struct Outcome {
    pub dets: Vec<Detection>,
    /// `(labelled face, detection)`, ignored faces included.
    pub pairs: Vec<(usize, usize)>,
    labelled: usize,
    tp: usize,
    fp: usize,
    ms: f64,
}

/// Sums over one split.
#[derive(Default)]
pub struct Totals {
    pub labelled: usize,
    pub tp: usize,
    pub fp: usize,
    pub solvay: usize,
    pub inside: usize,
    pub dets: usize,
}

pub fn detect_all(cf: &CenterFace, photos: &[Photo], s: Setting) -> Result<Vec<Outcome>, Error> {
    let opts = DetectOptions {
        max_side: s.max_side,
        min_face: s.min_face,
        ..DetectOptions::default()
    };
    let mut out = Vec::new();
    for p in photos {
        let t = Instant::now();
        let dets = cf.detect_with(&p.rgb, p.width as u32, p.height as u32, &opts)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let truth: Vec<[f32; 4]> = p.faces.iter().map(|f| f.bbox).collect();
        let pairs = match_greedy(&truth, &dets);
        let tp = pairs.iter().filter(|(t, _)| !p.faces[*t].ignore).count();
        let labelled = p.faces.iter().filter(|f| !f.ignore).count();
        let fp = dets.len() - pairs.len();
        out.push(Outcome {
            dets,
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
pub fn detection_rows(label: &str, photos: &[Photo], outcomes: &[Outcome]) -> Totals {
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
            solvay: solvay.map_or(0, |o| o.tp),
            inside: sum(&|o| o.dets.iter().filter(|d| landmarks_inside(d)).count()),
            dets: sum(&|o| o.dets.len()),
        };
        let solvay_cell = solvay.map_or("–".into(), |o| format!("{}/{}", o.tp, o.labelled));
        println!(
            "| {label} | {name} | {} | {} | {} | {} | {} | {} | {solvay_cell} | {}/{} | {:.0} |",
            sel.len(),
            t.labelled,
            t.dets,
            t.tp,
            pct(t.tp, t.labelled),
            pct(t.tp, t.tp + t.fp),
            t.inside,
            t.dets,
            median(sel.iter().map(|&i| outcomes[i].ms).collect()),
        );
        if split == Some("heldout") {
            held_out = t;
        }
    }
    held_out
}
