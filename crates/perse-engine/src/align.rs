//! 5-point alignment onto dlib's 150x150 face chip (`engine/reference.py align_chip`).
//!
//! The descriptor was trained on chips cut by dlib's `extract_image_chip(img,
//! get_face_chip_details(shape, 150, 0.25))`. CenterFace gives eye centres, nose tip and
//! mouth corners, so the reference points come from dlib's 68-point mean face (see the
//! README's table); the chip geometry, the pyramid anti-aliasing and the black border
//! follow dlib.

use crate::error::{EngineError, Result};

/// Chip side in pixels.
pub const CHIP_SIZE: usize = 150;
/// dlib's padding around the mean face.
const PADDING: f64 = 0.25;

/// The 5 points in dlib's mean-face unit square, CenterFace order: eye centres (means of
/// iBUG points 36–41 and 42–47), nose tip (30), mouth corners (48, 54).
const MEAN_FACE_5: [[f64; 2]; 5] = [
    [
        (0.121737 + 0.187122 + 0.265825 + 0.334606 + 0.260918 + 0.182743) / 6.0,
        (0.216423 + 0.178758 + 0.179852 + 0.231733 + 0.245099 + 0.244077) / 6.0,
    ],
    [
        (0.645647 + 0.714428 + 0.793132 + 0.858516 + 0.79751 + 0.719335) / 6.0,
        (0.231733 + 0.179852 + 0.178758 + 0.216423 + 0.244077 + 0.245099) / 6.0,
    ],
    [0.490127, 0.515625],
    [0.254149, 0.780233],
    [0.726104, 0.780233],
];

/// A 150x150 RGB chip, HWC, float 0..255 (before any rounding).
#[derive(Debug, Clone, PartialEq)]
pub struct Chip {
    pub data: Vec<f32>,
}

impl Chip {
    /// The chip rounded to 8-bit values, as dlib stores chips (`rgb_pixel`) and as the
    /// descriptor test vector was made.
    pub fn rounded(&self) -> Chip {
        Chip {
            data: self
                .data
                .iter()
                .map(|v| v.round_ties_even().clamp(0.0, 255.0))
                .collect(),
        }
    }
}

/// Where the 5 points land in the chip, in chip pixels: `(padding + p) / (1 + 2 padding) * 150`.
pub fn chip_reference_points() -> [[f64; 2]; 5] {
    MEAN_FACE_5.map(|p| p.map(|v| (PADDING + v) / (2.0 * PADDING + 1.0) * CHIP_SIZE as f64))
}

/// Least-squares similarity `[[a, -b, tx], [b, a, ty]]` mapping `src` onto `dst` (closed
/// form of the 4-unknown linear fit; equals dlib's Umeyama fit without reflection).
pub fn similarity_transform(src: &[[f64; 2]], dst: &[[f64; 2]]) -> [[f64; 3]; 2] {
    let n = src.len().min(dst.len()).max(1) as f64;
    let mean = |p: &[[f64; 2]]| {
        let s = p.iter().fold([0.0, 0.0], |a, q| [a[0] + q[0], a[1] + q[1]]);
        [s[0] / n, s[1] / n]
    };
    let (ms, md) = (mean(src), mean(dst));
    let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (sx, sy, dx, dy) = (s[0] - ms[0], s[1] - ms[1], d[0] - md[0], d[1] - md[1]);
        num_a += sx * dx + sy * dy;
        num_b += sx * dy - sy * dx;
        den += sx * sx + sy * sy;
    }
    let (a, b) = if den > 0.0 {
        (num_a / den, num_b / den)
    } else {
        (1.0, 0.0)
    };
    let tx = md[0] - (a * ms[0] - b * ms[1]);
    let ty = md[1] - (b * ms[0] + a * ms[1]);
    [[a, -b, tx], [b, a, ty]]
}

/// A float RGB image, HWC.
struct Image {
    w: usize,
    h: usize,
    data: Vec<f32>,
}

/// Cuts the 150x150 chip for `landmarks` (CenterFace's 5 points, image pixels) out of an
/// RGB8 image (`width*height*3` bytes, row-major). Points far outside the image give a
/// black chip, as in dlib.
pub fn extract_chip(rgb: &[u8], width: usize, height: usize, landmarks: &[[f32; 2]; 5]) -> Result<Chip> {
    if width.checked_mul(height).and_then(|p| p.checked_mul(3)) != Some(rgb.len()) {
        return Err(EngineError::Input(format!(
            "{} bytes is not a {width}x{height} RGB8 image",
            rgb.len()
        )));
    }
    let size = CHIP_SIZE;
    let black = Chip {
        data: vec![0.0; size * size * 3],
    };
    let dst = landmarks.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let t = similarity_transform(&chip_reference_points(), &dst);
    let scale = t[1][0].hypot(t[0][0]);
    let angle = t[1][0].atan2(t[0][0]);
    let c = size as f64 / 2.0;
    let (mut cx, mut cy) = (t[0][0] * c + t[0][1] * c + t[0][2], t[1][0] * c + t[1][1] * c + t[1][2]);
    let side = size as f64 * scale;
    if !(side.is_finite() && cx.is_finite() && cy.is_finite()) {
        return Ok(black);
    }
    let mut levels = 0;
    while levels < 40 && (side / 2f64.powi(levels + 1)).powi(2) > (size * size) as f64 {
        levels += 1;
    }
    // Crop a margin around the rotated rect first (speed), exactly as the reference does,
    // because the pyramid's sampling grid starts at the crop origin.
    let half = side * 0.75 + 8.0;
    let x0 = (cx - half).floor().max(0.0) as usize;
    let y0 = (cy - half).floor().max(0.0) as usize;
    let x1 = (cx + half).ceil().min(width as f64).max(0.0) as usize;
    let y1 = (cy + half).ceil().min(height as f64).max(0.0) as usize;
    if x1 <= x0 || y1 <= y0 {
        return Ok(black);
    }
    let mut img = Image {
        w: x1 - x0,
        h: y1 - y0,
        data: Vec::with_capacity((x1 - x0) * (y1 - y0) * 3),
    };
    for y in y0..y1 {
        img.data.extend(
            rgb[(y * width + x0) * 3..(y * width + x1) * 3]
                .iter()
                .map(|&v| f32::from(v)),
        );
    }
    cx -= x0 as f64;
    cy -= y0 as f64;
    let mut f = 1.0;
    for _ in 0..levels {
        if img.w.min(img.h) <= 8 {
            break;
        }
        img = pyramid_down2(&img);
        cx = cx / 2.0 - 1.0;
        cy = cy / 2.0 - 1.0;
        f *= 2.0;
    }
    let side_l = side / f;
    let (ca, sa) = (angle.cos(), angle.sin());
    let mut data = Vec::with_capacity(size * size * 3);
    let u = |i: usize| (i as f64 / (size - 1) as f64 - 0.5) * side_l;
    for r in 0..size {
        for col in 0..size {
            let (uu, vv) = (u(col), u(r));
            data.extend(bilinear(&img, cx + ca * uu - sa * vv, cy + sa * uu + ca * vv));
        }
    }
    Ok(Chip { data })
}

/// dlib `pyramid_down<2>`: separable [1 4 6 4 1]/16 filter, output (r, c) is the filtered
/// input at (2r+2, 2c+2), size `(n-3)/2`.
fn pyramid_down2(img: &Image) -> Image {
    const F: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    let (wo, ho) = (img.w.saturating_sub(3) / 2, img.h.saturating_sub(3) / 2);
    // Row filter: tmp[y][c] = sum_k F[k] * img[y][2c + k].
    let mut tmp = vec![0.0f32; img.h * wo * 3];
    for y in 0..img.h {
        for c in 0..wo {
            for ch in 0..3 {
                tmp[(y * wo + c) * 3 + ch] = (0..5).map(|k| F[k] * img.data[(y * img.w + 2 * c + k) * 3 + ch]).sum();
            }
        }
    }
    let mut data = vec![0.0f32; ho * wo * 3];
    for r in 0..ho {
        for (i, d) in data[r * wo * 3..][..wo * 3].iter_mut().enumerate() {
            *d = (0..5).map(|k| F[k] * tmp[(2 * r + k) * wo * 3 + i]).sum();
        }
    }
    Image { w: wo, h: ho, data }
}

/// Bilinear sample at (x, y); 0 (black) outside `[0, w-1] x [0, h-1]`, as dlib.
fn bilinear(img: &Image, x: f64, y: f64) -> [f32; 3] {
    if img.w == 0 || img.h == 0 || !(x >= 0.0 && y >= 0.0 && x <= (img.w - 1) as f64 && y <= (img.h - 1) as f64) {
        return [0.0; 3];
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let (x1, y1) = ((x0 + 1).min(img.w - 1), (y0 + 1).min(img.h - 1));
    let px = |xx: usize, yy: usize, c: usize| f64::from(img.data[(yy * img.w + xx) * 3 + c]);
    let mut out = [0.0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let v = px(x0, y0, c) * (1.0 - fx) * (1.0 - fy)
            + px(x1, y0, c) * fx * (1.0 - fy)
            + px(x0, y1, c) * (1.0 - fx) * fy
            + px(x1, y1, c) * fx * fy;
        *o = v as f32;
    }
    out
}
