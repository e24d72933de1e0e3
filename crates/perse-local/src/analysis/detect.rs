//! Face detection with SeetaFace's funnel-structured cascade (the `rustface` port), using the
//! frontal model the crate ships, embedded here so the server works offline.

use image::GrayImage;

static MODEL: &[u8] = include_bytes!("../../model/seeta_fd_frontal_v1.0.bin");

thread_local! {
    static DETECTOR: std::cell::RefCell<Option<Box<dyn rustface::Detector>>> = const { std::cell::RefCell::new(None) };
}

/// Detection runs on a copy at most this long on its longer side; boxes are scaled back.
const DETECT_MAX_SIDE: u32 = 800;

/// A face rectangle in pixels of the analysed image, entirely inside it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The cascade's confidence score (higher is surer).
    pub score: f64,
}

/// Holds the parsed model; each detection clones it into a fresh detector, so one
/// `FaceDetector` can serve many threads at once.
#[derive(Clone)]
pub struct FaceDetector {
    model: rustface::Model,
}

impl FaceDetector {
    pub fn new() -> std::io::Result<Self> {
        Ok(FaceDetector {
            model: rustface::read_model(MODEL)?,
        })
    }

    /// Faces in `gray`, largest first. Faces cut by the image border are dropped (the API
    /// considers only faces that lie completely inside the image).
    pub fn detect(&self, gray: &GrayImage) -> Vec<FaceBox> {
        let (w, h) = gray.dimensions();
        if w < 24 || h < 24 {
            return Vec::new();
        }
        let scale = (DETECT_MAX_SIDE as f64 / w.max(h) as f64).min(1.0);
        let small = if scale < 1.0 {
            let (sw, sh) = (((w as f64) * scale).round() as u32, ((h as f64) * scale).round() as u32);
            image::imageops::resize(gray, sw.max(1), sh.max(1), image::imageops::FilterType::Triangle)
        } else {
            gray.clone()
        };
        // Contrast normalisation first, so a dark or washed-out photo still shows its face:
        // quality is judged by the metrics, not by whether detection happens to fail.
        let normalised = equalize(&small);
        let (sw, sh) = normalised.dimensions();
        let image = rustface::ImageData::new(normalised.as_raw(), sw, sh);
        // One detector per worker thread, built once: cloning the 1.2 MB model for every image
        // costs time and churns the allocator under load.
        let found = DETECTOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let detector = slot.get_or_insert_with(|| {
                let mut d = rustface::create_detector_with_model(self.model.clone());
                d.set_min_face_size(20);
                d.set_score_thresh(2.0);
                d.set_pyramid_scale_factor(0.8);
                d.set_slide_window_step(4, 4);
                d
            });
            detector.detect(&image)
        });
        let mut faces: Vec<FaceBox> = found
            .into_iter()
            .filter_map(|f| {
                let b = f.bbox();
                let (x, y) = (b.x() as f64 / scale, b.y() as f64 / scale);
                let (bw, bh) = (b.width() as f64 / scale, b.height() as f64 / scale);
                let inside = x >= 0.0 && y >= 0.0 && x + bw <= w as f64 && y + bh <= h as f64;
                inside.then(|| FaceBox {
                    x: x.round() as u32,
                    y: y.round() as u32,
                    width: (bw.round() as u32).min(w - x.round() as u32),
                    height: (bh.round() as u32).min(h - y.round() as u32),
                    score: f.score(),
                })
            })
            .filter(|f| f.width >= 8 && f.height >= 8)
            .collect();
        faces.sort_by_key(|f| std::cmp::Reverse(f.width * f.height));
        faces
    }
}

/// Histogram equalisation of an 8-bit grey image.
pub fn equalize(gray: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for p in gray.as_raw() {
        hist[*p as usize] += 1;
    }
    let total = gray.as_raw().len() as u64;
    let mut cdf = [0u64; 256];
    let mut acc = 0;
    for (i, h) in hist.iter().enumerate() {
        acc += h;
        cdf[i] = acc;
    }
    let min = cdf.iter().copied().find(|c| *c > 0).unwrap_or(0);
    let range = total.saturating_sub(min).max(1);
    let lut: Vec<u8> = cdf
        .iter()
        .map(|c| ((c.saturating_sub(min)) * 255 / range) as u8)
        .collect();
    let mut out = gray.clone();
    for p in out.iter_mut() {
        *p = lut[*p as usize];
    }
    out
}
