//! The labelled photos: `engine/eval/labels.json` and the images in `engine/eval/images/`.

use std::path::Path;

use image::{DynamicImage, RgbImage};

/// One labelled face.
pub struct Face {
    /// `[x1, y1, x2, y2]` in the stored image's pixels.
    pub bbox: [f32; 4],
    pub id: Option<String>,
    /// `id_scope: "photo"`: the id means nothing outside its photo.
    pub photo_scope: bool,
    /// Neither a miss when missed nor a false positive when found (faces cut by the border).
    pub ignore: bool,
}

/// One labelled photo, decoded.
pub struct Photo {
    pub name: String,
    /// `dev` or `heldout`.
    pub split: String,
    /// `portrait`, `group` or `chip` (a tight 150x150 face crop).
    pub kind: String,
    /// Crops and re-encodes of another photo: detection only, no verification.
    pub derived: bool,
    /// `same_shot_as`: another photo of the same shot (near-duplicate): no genuine pair with it.
    pub same_shot_as: Option<String>,
    /// `pad`: the stored image was put in the middle of a grey canvas this many times its size
    /// (tight face crops, which CenterFace cannot find when the face fills the frame).
    pub pad: Option<u32>,
    pub faces: Vec<Face>,
    /// What is analysed: the decoded photo, padded when `pad` says so.
    pub image: DynamicImage,
}

type Error = Box<dyn std::error::Error>;

/// Reads labels.json and decodes every photo it names.
pub fn load(eval_dir: &Path) -> Result<Vec<Photo>, Error> {
    let labels_path = eval_dir.join("labels.json");
    let text = std::fs::read_to_string(&labels_path).map_err(|e| format!("{}: {e}", labels_path.display()))?;
    let labels: serde_json::Value = serde_json::from_str(&text)?;
    let images = labels["images"]
        .as_object()
        .ok_or("labels.json has no `images` object")?;
    let mut photos = Vec::new();
    for (name, info) in images {
        let faces = info["faces"]
            .as_array()
            .ok_or_else(|| format!("{name}: no `faces`"))?
            .iter()
            .map(|f| Face {
                bbox: std::array::from_fn(|i| f["box"][i].as_f64().unwrap_or(0.0) as f32),
                id: f["id"].as_str().map(String::from),
                photo_scope: f["id_scope"].as_str() == Some("photo"),
                ignore: f["ignore"].as_bool().unwrap_or(false),
            })
            .collect();
        let path = eval_dir.join("images").join(name);
        let pad = info["pad"].as_u64().map(|p| p as u32);
        let image = load_image(&path, pad).map_err(|e| format!("{}: {e}", path.display()))?;
        photos.push(Photo {
            name: name.clone(),
            split: info["split"].as_str().unwrap_or("heldout").to_string(),
            kind: info["kind"].as_str().unwrap_or("portrait").to_string(),
            derived: info.get("same_photo_as").is_some(),
            same_shot_as: info["same_shot_as"].as_str().map(String::from),
            pad,
            faces,
            image,
        });
    }
    Ok(photos)
}

/// The image the eval analyses: decoded as the server decodes an upload
/// (`perse_local::analysis::decode`, PPM aside), then padded when `pad` is given.
pub fn load_image(path: &Path, pad: Option<u32>) -> Result<DynamicImage, Error> {
    let img = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ppm")) {
        // The `image` crate reads PPM only with its `pnm` feature, which the server lacks.
        let (rgb, w, h) = read_ppm(&std::fs::read(path)?)?;
        DynamicImage::ImageRgb8(RgbImage::from_raw(w as u32, h as u32, rgb).ok_or("bad PPM size")?)
    } else {
        perse_local::analysis::decode(&std::fs::read(path)?)?
    };
    Ok(match pad {
        Some(k) if k > 1 => DynamicImage::ImageRgb8(padded(&img.to_rgb8(), k)),
        _ => img,
    })
}

/// Grey of the padding canvas (neutral mid-grey).
pub const PAD_GREY: u8 = 128;

/// `img` in the middle of a `k` times larger canvas of [`PAD_GREY`].
pub fn padded(img: &RgbImage, k: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut canvas = RgbImage::from_pixel(w * k, h * k, image::Rgb([PAD_GREY; 3]));
    image::imageops::replace(&mut canvas, img, i64::from(w * (k - 1) / 2), i64::from(h * (k - 1) / 2));
    canvas
}

/// Binary PPM: `P6 <width> <height> <maxval>` (whitespace and `#` comments between), one
/// whitespace byte, then RGB8 rows.
fn read_ppm(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize), Error> {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        match bytes.get(i) {
            None => return Err("truncated PPM header".into()),
            Some(b'#') => i += bytes[i..].iter().position(|&b| b == b'\n').unwrap_or(bytes.len() - i),
            Some(b) if b.is_ascii_whitespace() => i += 1,
            Some(_) => {
                let end = i + bytes[i..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace())
                    .unwrap_or(bytes.len() - i);
                fields.push(std::str::from_utf8(&bytes[i..end])?);
                i = end;
            }
        }
    }
    let num = |s: &str| s.parse::<usize>().map_err(|_| format!("bad PPM header field `{s}`"));
    let (w, h) = (num(fields[1])?, num(fields[2])?);
    if fields[0] != "P6" || num(fields[3])? != 255 {
        return Err(format!(
            "only 8-bit binary PPM (P6, maxval 255) is read, not {} {}",
            fields[0], fields[3]
        )
        .into());
    }
    let data = bytes.get(i + 1..i + 1 + w * h * 3).ok_or("truncated PPM data")?;
    Ok((data.to_vec(), w, h))
}
