//! The Rust side of `npm run bench:engine` (scripts/bench-engine.js): a long-lived process
//! that times the networks on command, so that the driver can alternate it with the
//! onnxruntime worker (`engine/bench_ort.py`) call by call on the same inputs.
//!
//! ```sh
//! cargo run --release -p perse-engine --example bench_worker -- MODELS_DIR
//! ```
//! One JSON command per stdin line, one JSON answer per stdout line:
//! - `{"cmd":"prepare","images":[...],"dir":D,"max_side":800}`: for each photo, the
//!   CenterFace input at that longer side (Pillow-BOX downscale, zero padding to multiples
//!   of 32) and the descriptor input for its largest face (aligned chip, normalised), both
//!   as raw little-endian f32 CHW files in `D`. Answers their paths and shapes (or why a
//!   photo was skipped: a format the image crate is built without).
//! - `{"cmd":"centerface","input":F,"shape":[3,H,W],"threads":T,"runs":N}`: N timed
//!   forward passes; answers `{"ms":[...]}`.
//! - `{"cmd":"descriptor","input":F,"threads":T,"runs":N}`: the same for the descriptor,
//!   per chip: with T threads, T copies of the chip described at once, one per thread (as
//!   `Descriptor::compute_many` does; one chip never uses more than one thread).
//! - `{"cmd":"outputs","net":"centerface"|"descriptor","input":F,"shape":[..],"out":O}`:
//!   writes the network's outputs to O (raw f32, CenterFace's four maps in the order
//!   heatmap, scale, offset, landmarks) for the numerical cross-check.
//! - `{"cmd":"macs","net":"centerface"|"descriptor","input":F,"shape":[..]}`: the
//!   multiply-adds of one forward pass on that input (`Graph::multiply_adds`).
//! - `{"cmd":"peak","threads":T}`: this machine's multiply-add peak in GMAC/s, measured as
//!   12 independent chains of FMAs (the widest vectors the CPU has) on each of T threads at
//!   once: the roof the networks' times are put against.
//! - `{"cmd":"info"}`: the kernel set and thread counts.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use perse_engine::{align, padded_input, resize::resize_box, CenterFace, Descriptor, Tensor};
use serde_json::{json, Value};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn read_f32(path: &str, shape: [usize; 3]) -> Res<Tensor> {
    let bytes = std::fs::read(path)?;
    let data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Tensor::from_vec(shape[0], shape[1], shape[2], data).ok_or_else(|| format!("{path}: not {shape:?}").into())
}

fn write_f32(path: &Path, parts: &[&[f32]]) -> Res<()> {
    let bytes: Vec<u8> = parts
        .iter()
        .flat_map(|p| p.iter())
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(path, bytes)?;
    Ok(())
}

fn shape(v: &Value) -> Res<[usize; 3]> {
    let s: Vec<usize> = serde_json::from_value(v.clone())?;
    s.try_into().map_err(|_| "shape must have 3 values".into())
}

fn str_of<'a>(v: &'a Value, key: &str) -> Res<&'a str> {
    v[key].as_str().ok_or_else(|| format!("missing `{key}`").into())
}

fn prepare(cf: &CenterFace, ds: &Descriptor, cmd: &Value) -> Res<Value> {
    let dir = PathBuf::from(str_of(cmd, "dir")?);
    std::fs::create_dir_all(&dir)?;
    let max_side = cmd["max_side"].as_u64().unwrap_or(800) as usize;
    let mut out = Vec::new();
    for img in cmd["images"].as_array().ok_or("missing `images`")? {
        let path = img.as_str().ok_or("image paths are strings")?;
        let rgb = match image::open(path) {
            Ok(i) => i.to_rgb8(),
            // A format the server does not take either (PPM): left out, with the reason.
            Err(e) => {
                out.push(json!({"image": path, "skipped": e.to_string()}));
                continue;
            }
        };
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let s = (max_side as f64 / w.max(h) as f64).min(1.0);
        let (nw, nh) = (
            ((w as f64 * s).round_ties_even() as usize).max(1),
            ((h as f64 * s).round_ties_even() as usize).max(1),
        );
        let small = resize_box(rgb.as_raw(), w, h, nw, nh);
        let input = padded_input(&small, nw, nh);
        let name = Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or("image");
        let cf_file = dir.join(format!("{name}.centerface.f32"));
        write_f32(&cf_file, &[&input.data])?;
        let faces = cf.detect(rgb.as_raw(), w as u32, h as u32, Some(max_side as u32))?;
        let largest = faces
            .iter()
            .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])));
        let chip = match largest {
            Some(f) => {
                let chip = align::extract_chip(rgb.as_raw(), w, h, &f.landmarks)?.rounded();
                let x = ds.input(&chip.data)?;
                let file = dir.join(format!("{name}.descriptor.f32"));
                write_f32(&file, &[&x.data])?;
                json!({"input": file, "shape": x.shape()})
            }
            None => Value::Null,
        };
        out.push(json!({
            "image": path, "size": [w, h],
            "centerface": {"input": cf_file, "shape": input.shape()},
            "descriptor": chip,
        }));
    }
    Ok(Value::Array(out))
}

fn timed(runs: usize, mut f: impl FnMut() -> Res<()>) -> Res<Value> {
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(json!({ "ms": ms }))
}

/// The models, with one CenterFace per thread count asked for: a model keeps its buffers
/// between runs, and a fresh copy per command would time the allocation of new ones.
struct Models {
    cf: CenterFace,
    by_threads: Vec<(usize, CenterFace)>,
    ds: Descriptor,
}

impl Models {
    fn centerface(&mut self, threads: usize) -> &CenterFace {
        if let Some(i) = self.by_threads.iter().position(|(t, _)| *t == threads) {
            return &self.by_threads[i].1;
        }
        self.by_threads.push((threads, self.cf.clone().with_threads(threads)));
        &self.by_threads[self.by_threads.len() - 1].1
    }
}

fn handle(models: &mut Models, cmd: &Value) -> Res<Value> {
    let threads = cmd["threads"].as_u64().unwrap_or(1).max(1) as usize;
    let runs = cmd["runs"].as_u64().unwrap_or(1) as usize;
    match str_of(cmd, "cmd")? {
        "info" => Ok(json!({"isa": models.cf.graph().isa().name()})),
        "prepare" => prepare(&models.cf, &models.ds, cmd),
        "centerface" => {
            let x = read_f32(str_of(cmd, "input")?, shape(&cmd["shape"])?)?;
            let cf = models.centerface(threads);
            timed(runs, || {
                std::hint::black_box(cf.forward(x.clone())?);
                Ok(())
            })
        }
        "descriptor" => {
            let x = read_f32(str_of(cmd, "input")?, [3, 150, 150])?;
            let ds = &models.ds;
            let mut answer = timed(runs, || {
                std::thread::scope(|s| {
                    let others: Vec<_> = (1..threads)
                        .map(|_| s.spawn(|| ds.graph().run(x.clone(), 1, false).map(drop)))
                        .collect();
                    ds.graph().run(x.clone(), 1, false)?;
                    for o in others {
                        o.join().map_err(|_| "a descriptor thread panicked")??;
                    }
                    Ok(())
                })
            })?;
            // Per chip.
            if let Some(ms) = answer["ms"].as_array_mut() {
                for v in ms.iter_mut() {
                    *v = json!(v.as_f64().unwrap_or(0.0) / threads as f64);
                }
            }
            Ok(answer)
        }
        "macs" => {
            let net = str_of(cmd, "net")?;
            let macs = if net == "centerface" {
                let x = read_f32(str_of(cmd, "input")?, shape(&cmd["shape"])?)?;
                models.cf.graph().multiply_adds(x)?
            } else {
                models
                    .ds
                    .graph()
                    .multiply_adds(read_f32(str_of(cmd, "input")?, [3, 150, 150])?)?
            };
            Ok(json!({ "macs": macs }))
        }
        "peak" => {
            let rates: Vec<f64> = std::thread::scope(|s| {
                let all: Vec<_> = (0..threads).map(|_| s.spawn(peak::gmacs)).collect();
                all.into_iter().map(|t| t.join().unwrap_or(0.0)).collect()
            });
            Ok(json!({ "gmacs": rates.iter().sum::<f64>(), "per_thread": rates }))
        }
        "outputs" => {
            let out = PathBuf::from(str_of(cmd, "out")?);
            let (cf, ds) = (&models.cf, &models.ds);
            if str_of(cmd, "net")? == "centerface" {
                let o = cf.forward(read_f32(str_of(cmd, "input")?, shape(&cmd["shape"])?)?)?;
                write_f32(
                    &out,
                    &[&o.heatmap.data, &o.scale.data, &o.offset.data, &o.landmarks.data],
                )?;
            } else {
                let x = read_f32(str_of(cmd, "input")?, [3, 150, 150])?;
                let mut o = ds.graph().run(x, 1, false)?;
                let d = o.remove("descriptor").ok_or("no descriptor output")?;
                write_f32(&out, &[&d.data])?;
            }
            Ok(json!({"out": out}))
        }
        other => Err(format!("unknown command `{other}`").into()),
    }
}

fn main() -> Res<()> {
    let models = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: bench_worker MODELS_DIR")?;
    let mut models = Models {
        cf: CenterFace::load(models.join("centerface.safetensors"))?,
        by_threads: Vec::new(),
        // As the local server runs it (3x3 convs on 8-bit integers).
        ds: Descriptor::load(models.join("dlib_resnet_v1.f16.safetensors"))?.with_int8_convs(),
    };
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(cmd) => handle(&mut models, &cmd).unwrap_or_else(|e| json!({"error": e.to_string()})),
            Err(e) => json!({"error": format!("bad command: {e}")}),
        };
        let mut out = stdout.lock();
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

/// The multiply-add peak of one core: 12 independent accumulator chains (enough to cover
/// the FMA latency on two pipes), each step an FMA on a full vector.
mod peak {
    use std::time::Instant;

    const STEPS: u64 = 50_000_000;

    /// GMAC/s with the widest FMA this CPU runs (best of 3 runs).
    pub fn gmacs() -> f64 {
        (0..3).map(|_| once()).fold(0.0, f64::max)
    }

    fn once() -> f64 {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: checked just above.
                return unsafe { avx512() };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: checked just above.
                return unsafe { avx2() };
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            // SAFETY: NEON is part of every aarch64 CPU.
            return unsafe { neon() };
        }
        #[allow(unreachable_code)]
        scalar()
    }

    /// Times `STEPS` rounds of `fma` on 12 independent accumulators (`start(i)` each) of
    /// `lanes` floats: GMAC/s. Inlined into each kernel set's function, so the intrinsics run
    /// with its target features.
    #[inline(always)]
    fn chains<V: Copy>(lanes: u64, start: impl Fn(usize) -> V, fma: impl Fn(V) -> V) -> f64 {
        let mut acc: [V; 12] = std::array::from_fn(start);
        let t = Instant::now();
        for _ in 0..STEPS {
            for a in &mut acc {
                *a = fma(*a);
            }
        }
        std::hint::black_box(&acc);
        (STEPS * 12 * lanes) as f64 / t.elapsed().as_secs_f64() / 1e9
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512() -> f64 {
        use std::arch::x86_64::*;
        let (b, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        chains(16, |i| _mm512_set1_ps(i as f32), |a| _mm512_fmadd_ps(a, b, c))
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2() -> f64 {
        use std::arch::x86_64::*;
        let (b, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        chains(8, |i| _mm256_set1_ps(i as f32), |a| _mm256_fmadd_ps(a, b, c))
    }

    #[cfg(target_arch = "aarch64")]
    unsafe fn neon() -> f64 {
        use std::arch::aarch64::*;
        let (b, c) = (vdupq_n_f32(0.999_999), vdupq_n_f32(1e-7));
        chains(4, |i| vdupq_n_f32(i as f32), |a| vfmaq_f32(c, a, b))
    }

    #[allow(dead_code)] // only on targets without a vector FMA above
    fn scalar() -> f64 {
        chains(1, |i| i as f32, |a: f32| a.mul_add(0.999_999, 1e-7))
    }
}
