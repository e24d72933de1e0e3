//! The face engine: CenterFace (boxes and 5 landmarks) and the descriptor network, loaded
//! once from the weights folder and shared by every server of the process that uses it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use image::RgbImage;
use perse_engine::{CenterFace, DetectOptions};

/// The weight files in the weights folder (see `packages/local/weights/PROVENANCE.md`).
pub const DETECTOR_FILE: &str = "centerface.safetensors";
pub const DESCRIPTOR_FILE: &str = "dlib_resnet_v1.f16.safetensors";

/// Detection runs at most this long on its longer side, unless small faces need more (chosen
/// by `npm run eval:engine`: 800 finds every labelled face, Solvay's 29 too, at 1.26x the
/// replaced detector's time; 1024 found no more, at 1.6x) ...
const DETECT_MAX_SIDE: u32 = 800;
/// ... so that a face this wide (pixels of the upload) is still found ...
const DETECT_MIN_FACE: f32 = 32.0;
/// ... but never above this side (a 1 MB upload can be a 4000x3000 JPEG) ...
const DETECT_CAP_SIDE: f32 = 2048.0;
/// ... nor above this many network pixels: the engine's working memory grows with them
/// (measured: 123 MB at 800x800, 229 MB at 1024x1024, 528 MB at 1500x1500). Every photo of
/// `npm run eval:engine` runs below it; it lowers the working resolution only for uploads over
/// about 2048 px on their longer side, where faces under 1/64 of that side are then missed
/// (compare and enrollment need 64 px anyway).
const DETECT_MAX_NETWORK_PIXELS: f32 = 960.0 * 960.0;
/// Working memory of a detection per network pixel, for the server's memory budget
/// (see `DETECT_MAX_NETWORK_PIXELS` for the measurements).
pub const DETECT_BYTES_PER_NETWORK_PIXEL: u64 = 220;

/// Five points (x, y): image-left eye, image-right eye, nose, image-left and image-right
/// mouth corner.
pub type Points = [[f32; 2]; 5];

/// A face rectangle in pixels of the analysed image, entirely inside it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The detector's confidence, 0..1.
    pub score: f64,
}

/// Both networks, immutable after loading; one engine serves many threads at once.
pub struct Engine {
    detector: CenterFace,
    pub(crate) descriptor: perse_engine::Descriptor,
    /// Threads a detection may use when it runs alone.
    threads: usize,
    /// Analyses admitted and not finished ([`Engine::admit`]): a detection takes its share
    /// of the threads, so that a compare's two images, analysed at once, each get one core
    /// of two instead of both splitting every layer over both cores.
    in_flight: AtomicUsize,
}

/// An admitted analysis; dropping it ends it.
pub struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Engines loaded so far, by folder. Weak: the weights (about 30 MB as f32) are freed when
/// the last server using them closes; servers started meanwhile share one copy.
static LOADED: Mutex<Vec<(PathBuf, Weak<Engine>)>> = Mutex::new(Vec::new());

impl Engine {
    /// The engine for the weights in `dir`, loaded once per process while in use.
    pub fn load(dir: &Path) -> Result<Arc<Engine>, String> {
        let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        loaded.retain(|(_, w)| w.strong_count() > 0);
        if let Some(e) = loaded.iter().find(|(p, _)| p == dir).and_then(|(_, w)| w.upgrade()) {
            return Ok(e);
        }
        let engine = Arc::new(Engine::open(dir, perse_engine::Isa::detect())?);
        loaded.push((dir.to_path_buf(), Arc::downgrade(&engine)));
        Ok(engine)
    }

    /// An engine of its own (not shared) that runs the kernel set `isa` if this CPU has it,
    /// else the portable one: for tests that hold every kernel set to the same outputs.
    pub fn load_with_isa(dir: &Path, isa: perse_engine::Isa) -> Result<Engine, String> {
        Engine::open(dir, isa)
    }

    fn open(dir: &Path, isa: perse_engine::Isa) -> Result<Engine, String> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
        let file = |name: &str| {
            let p = dir.join(name);
            match p.is_file() {
                true => Ok(p),
                false => Err(format!(
                    "the face engine's weights are missing: {} (reinstall perse-node-local)",
                    p.display()
                )),
            }
        };
        let bad = |e: perse_engine::EngineError| format!("cannot load the face engine's weights: {e}");
        Ok(Engine {
            detector: CenterFace::load(file(DETECTOR_FILE)?)
                .map_err(bad)?
                .with_threads(threads)
                .with_isa(isa),
            descriptor: perse_engine::Descriptor::load(file(DESCRIPTOR_FILE)?)
                .map_err(bad)?
                .with_isa(isa)
                .with_int8_convs(),
            threads,
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Counts an analysis as running until the guard is dropped (see `in_flight`).
    pub fn admit(&self) -> Admitted<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Admitted(&self.in_flight)
    }

    /// Faces in `rgb` with their landmarks, largest first.
    pub fn detect(&self, rgb: &RgbImage) -> Result<Vec<(FaceBox, Points)>, String> {
        let (w, h) = rgb.dimensions();
        if w < 16 || h < 16 {
            return Ok(Vec::new());
        }
        let running = self.in_flight.load(Ordering::SeqCst).max(1);
        let opts = DetectOptions {
            threads: Some((self.threads / running).max(1)),
            ..detect_options(w, h)
        };
        let found = self
            .detector
            .detect_with(rgb.as_raw(), w, h, &opts)
            .map_err(|e| format!("face detection failed: {e}"))?;
        let mut faces: Vec<_> = found
            .into_iter()
            .filter_map(|d| {
                // Boxes come back clamped to the image; keep those with some size.
                let [bx, by, bw, bh] = d.bbox;
                let (x, y) = (bx.max(0.0).round() as u32, by.max(0.0).round() as u32);
                let width = ((bx + bw).round() as u32).min(w).saturating_sub(x);
                let height = ((by + bh).round() as u32).min(h).saturating_sub(y);
                let b = FaceBox {
                    x,
                    y,
                    width,
                    height,
                    score: f64::from(d.score),
                };
                (width >= 8 && height >= 8).then_some((b, d.landmarks))
            })
            .collect();
        faces.sort_by_key(|f| std::cmp::Reverse(f.0.width * f.0.height));
        Ok(faces)
    }
}

/// How a `w` x `h` image is detected: at `DETECT_MAX_SIDE`, raised so that a
/// `DETECT_MIN_FACE` face is found, within `DETECT_CAP_SIDE` and `DETECT_MAX_NETWORK_PIXELS`.
fn detect_options(w: u32, h: u32) -> DetectOptions {
    let (longer, shorter) = (w.max(h).max(1) as f32, w.min(h).max(1) as f32);
    let cap = DETECT_CAP_SIDE.min((DETECT_MAX_NETWORK_PIXELS * longer / shorter).sqrt());
    DetectOptions {
        max_side: Some(DETECT_MAX_SIDE),
        min_face: Some(DETECT_MIN_FACE.max(longer * perse_engine::MIN_FACE_NETWORK_PX / cap)),
        ..DetectOptions::default()
    }
}

/// The pixels of the network input a `w` x `h` image is detected at (for memory budgets).
pub fn network_pixels(w: u32, h: u32) -> u64 {
    let longer = w.max(h) as usize;
    let side = detect_options(w, h).network_side(longer) as u64;
    side * side * u64::from(w.min(h)) / longer.max(1) as u64
}
