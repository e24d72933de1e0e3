//! Timing and recall of the engine on one photo.
//!
//! ```sh
//! cargo run --release -p perse-engine --example bench -- [IMAGE] [--runs N] [--threads 1,2]
//!     [--sides 800,1024,1280,full] [--min-face PX] [--mosaic F]
//! ```
//! IMAGE defaults to `engine/eval/images/solvay1927.png`. Prints model load times, the median
//! detect time at longer sides 800/1024/1280/full, faces found (and recall against
//! `engine/eval/labels.json` when the photo is labelled), and descriptor time per face.
//! `--min-face PX` raises the working size where needed to find faces that wide.
//! `--profile` prints per-layer times instead, at the first of `--sides` (`full`: the photo's
//! own size; PERSE_BENCH_ALL_LAYERS=1 lists every layer, not the slowest 12).
//! `--mosaic F` first builds a 3x3 mosaic of the photo scaled by F (e.g. 0.55 turns Solvay's
//! 39–53 px faces into ~24 px faces in a ~2750 px photo) to probe small faces.

use std::path::{Path, PathBuf};
use std::time::Instant;

use perse_engine::{align, resize::resize_box, CenterFace, Descriptor, DetectOptions, Detection};

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
}

/// Labelled boxes `[x1, y1, x2, y2]` for a file name in engine/eval/labels.json.
fn labels(root: &Path, file: &str) -> Option<Vec<[f32; 4]>> {
    let s = std::fs::read_to_string(root.join("engine/eval/labels.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&s).ok()?;
    let faces = v["images"][file]["faces"].as_array()?;
    Some(
        faces
            .iter()
            .map(|f| std::array::from_fn(|i| f["box"][i].as_f64().unwrap_or(0.0) as f32))
            .collect(),
    )
}

/// Greedy IoU >= 0.4 matching (as engine/evaluate.py): (found, false positives).
fn score(dets: &[Detection], truth: &[[f32; 4]]) -> (usize, usize) {
    let iou = |a: &[f32; 4], d: &Detection| {
        let b = [d.bbox[0], d.bbox[1], d.bbox[0] + d.bbox[2], d.bbox[1] + d.bbox[3]];
        let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let i = iw * ih;
        i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i)
    };
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (ti, t) in truth.iter().enumerate() {
        for (di, d) in dets.iter().enumerate() {
            pairs.push((iou(t, d), ti, di));
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tu, mut du) = (vec![false; truth.len()], vec![false; dets.len()]);
    let mut found = 0;
    for (v, ti, di) in pairs {
        if v >= 0.4 && !tu[ti] && !du[di] {
            tu[ti] = true;
            du[di] = true;
            found += 1;
        }
    }
    (found, dets.len() - found)
}

/// 3x3 mosaic of the image scaled by `f`, with the labels moved along.
fn mosaic(rgb: &[u8], w: usize, h: usize, f: f64, truth: &[[f32; 4]]) -> (Vec<u8>, usize, usize, Vec<[f32; 4]>) {
    let (sw, sh) = (((w as f64) * f).round() as usize, ((h as f64) * f).round() as usize);
    let small = resize_box(rgb, w, h, sw, sh);
    let (mw, mh) = (sw * 3, sh * 3);
    let mut out = vec![0u8; mw * mh * 3];
    let mut boxes = Vec::new();
    for ty in 0..3 {
        for tx in 0..3 {
            for y in 0..sh {
                let dst = ((ty * sh + y) * mw + tx * sw) * 3;
                out[dst..dst + sw * 3].copy_from_slice(&small[y * sw * 3..(y + 1) * sw * 3]);
            }
            let (ox, oy, fx, fy) = (
                (tx * sw) as f32,
                (ty * sh) as f32,
                sw as f32 / w as f32,
                sh as f32 / h as f32,
            );
            boxes.extend(
                truth
                    .iter()
                    .map(|b| [b[0] * fx + ox, b[1] * fy + oy, b[2] * fx + ox, b[3] * fy + oy]),
            );
        }
    }
    (out, mw, mh, boxes)
}

/// Per-layer medians of CenterFace at a longer side of 800 and of the descriptor, by op kind
/// and the slowest layers.
#[allow(clippy::too_many_arguments)] // the models, the photo and the run's settings
fn profile(
    cf: &CenterFace,
    ds: &Descriptor,
    rgb: &[u8],
    w: usize,
    h: usize,
    threads: &[usize],
    runs: usize,
    side: Option<u32>,
) -> Result<(), Box<dyn std::error::Error>> {
    let s = f64::from(side.unwrap_or(w.max(h) as u32)) / w.max(h) as f64;
    let (nw, nh) = ((w as f64 * s).round() as usize, (h as f64 * s).round() as usize);
    let small = resize_box(rgb, w, h, nw, nh);
    let input = perse_engine::padded_input(&small, nw, nh);
    let chip = align::extract_chip(
        rgb,
        w,
        h,
        &[[40.0, 40.0], [80.0, 40.0], [60.0, 60.0], [45.0, 80.0], [75.0, 80.0]],
    )?
    .rounded();
    let report = |what: String, all: Vec<Vec<perse_engine::LayerTime>>| {
        let layers = &all[0];
        let med: Vec<f64> = (0..layers.len())
            .map(|i| median_ms(all.iter().map(|r| r[i].seconds * 1e3).collect()))
            .collect();
        let total: f64 = med.iter().sum();
        println!(
            "{what}: {total:.1} ms (sum of per-layer medians over {} runs)",
            all.len()
        );
        let mut kinds: Vec<(&str, f64)> = Vec::new();
        for (l, m) in layers.iter().zip(&med) {
            match kinds.iter_mut().find(|k| k.0 == l.op) {
                Some(k) => k.1 += m,
                None => kinds.push((l.op, *m)),
            }
        }
        kinds.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (k, m) in kinds {
            println!("  {k:>16} {m:7.2} ms {:5.1} %", 100.0 * m / total);
        }
        let mut order: Vec<usize> = (0..layers.len()).collect();
        order.sort_by(|&a, &b| med[b].total_cmp(&med[a]));
        let all_layers = std::env::var_os("PERSE_BENCH_ALL_LAYERS").is_some();
        for &i in order.iter().take(if all_layers { order.len() } else { 12 }) {
            let l = &layers[i];
            println!(
                "  {:>12} {:>14} {:>16} {:6.2} ms",
                l.name,
                l.op,
                format!("{:?}", l.shape),
                med[i]
            );
        }
    };
    // One untimed run each first: the first run allocates the buffers later runs reuse.
    cf.graph().profile(input.clone(), 1)?;
    ds.graph().profile(ds.input(&chip.data)?, 1)?;
    for &th in threads {
        let all = (0..runs)
            .map(|_| cf.graph().profile(input.clone(), th))
            .collect::<Result<Vec<_>, _>>()?;
        report(
            format!("centerface {nw}x{nh}, {th} thread(s), {}", cf.graph().isa().name()),
            all,
        );
    }
    let all = (0..runs.max(5) * 4)
        .map(|_| ds.graph().profile(ds.input(&chip.data)?, 1))
        .collect::<Result<Vec<_>, _>>()?;
    report(format!("descriptor, 1 thread, {}", ds.graph().isa().name()), all);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let image_path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("engine/eval/images/solvay1927.png"));
    let runs: usize = arg(&args, "--runs").unwrap_or(5).max(1);
    let threads: Vec<usize> = arg::<String>(&args, "--threads")
        .unwrap_or_else(|| "1,2".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let min_face: Option<f32> = arg(&args, "--min-face");
    let models = std::env::var_os("PERSE_ENGINE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("engine/models"));

    let t = Instant::now();
    let img = image::open(&image_path)?.to_rgb8();
    let (mut w, mut h) = (img.width() as usize, img.height() as usize);
    let mut rgb = img.into_raw();
    println!(
        "image {} {w}x{h}, decoded in {:.0} ms",
        image_path.display(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let file = image_path.file_name().and_then(|s| s.to_str()).unwrap_or("");
    let mut truth = labels(&root, file);
    if let Some(f) = arg::<f64>(&args, "--mosaic") {
        let (m, mw, mh, boxes) = mosaic(&rgb, w, h, f, truth.as_deref().unwrap_or(&[]));
        println!("mosaic 3x3 at scale {f}: {mw}x{mh}, {} labelled faces", boxes.len());
        (rgb, w, h, truth) = (m, mw, mh, truth.map(|_| boxes));
    }

    let cf_path = models.join("centerface.safetensors");
    let ds_path = [
        models.join("dlib_resnet_v1.f16.safetensors"),
        models.join("dlib_resnet_v1.safetensors"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or("no descriptor model")?;
    let t = Instant::now();
    let cf = CenterFace::load(&cf_path)?;
    println!("load {}: {:.1} ms", cf_path.display(), t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    // As the local server runs it; PERSE_BENCH_F32_DESCRIPTOR=1 for every conv in f32.
    let ds = Descriptor::load(&ds_path)?;
    let ds = if std::env::var_os("PERSE_BENCH_F32_DESCRIPTOR").is_some() {
        ds
    } else {
        ds.with_int8_convs()
    };
    println!("load {}: {:.1} ms", ds_path.display(), t.elapsed().as_secs_f64() * 1e3);

    let sides: Vec<Option<u32>> = arg::<String>(&args, "--sides")
        .unwrap_or_else(|| "800,1024,1280,full".into())
        .split(',')
        .map(|s| s.parse().ok())
        .collect();
    if args.iter().any(|a| a == "--profile") {
        profile(&cf, &ds, &rgb, w, h, &threads, runs, sides.first().copied().flatten())?;
        return Ok(());
    }
    let mut full_faces = Vec::new();
    for side in sides {
        let label = side.map_or_else(|| format!("full ({})", w.max(h)), |s| s.to_string())
            + &min_face.map_or(String::new(), |m| format!(" min_face {m}"));
        for &th in &threads {
            let cf = cf.clone().with_threads(th);
            let mut times = Vec::new();
            let mut dets = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let opts = DetectOptions {
                    max_side: side,
                    min_face,
                    ..DetectOptions::default()
                };
                dets = cf.detect_with(&rgb, w as u32, h as u32, &opts)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let recall = truth.as_ref().map_or(String::new(), |tr| {
                let (found, false_pos) = score(&dets, tr);
                format!(", labelled {found}/{} found, {false_pos} false", tr.len())
            });
            println!(
                "detect max_side {label:>11}, {th} thread(s): median {:7.1} ms over {runs} runs, {} faces{recall}",
                median_ms(times),
                dets.len()
            );
            if full_faces.is_empty() || side.is_none() {
                full_faces = dets;
            }
        }
    }

    if full_faces.is_empty() {
        return Ok(());
    }
    let chips = full_faces
        .iter()
        .take(30)
        .map(|f| Ok(align::extract_chip(&rgb, w, h, &f.landmarks)?.rounded()))
        .collect::<Result<Vec<_>, perse_engine::EngineError>>()?;
    let t = Instant::now();
    for f in full_faces.iter().take(30) {
        std::hint::black_box(align::extract_chip(&rgb, w, h, &f.landmarks)?);
    }
    println!(
        "align: {:.2} ms per face",
        t.elapsed().as_secs_f64() * 1e3 / chips.len() as f64
    );
    for &th in &threads {
        let ds = ds.clone().with_threads(th);
        let mut one = Vec::new();
        for chip in &chips {
            let t = Instant::now();
            std::hint::black_box(ds.compute(chip)?);
            one.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        std::hint::black_box(ds.compute_many(&chips)?);
        let many = t.elapsed().as_secs_f64() * 1e3 / chips.len() as f64;
        println!(
            "descriptor, {th} thread(s): one chip at a time median {:.1} ms; compute_many over {} chips {:.1} ms per chip",
            median_ms(one),
            chips.len(),
            many
        );
    }
    Ok(())
}
