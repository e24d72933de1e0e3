//! The labelled photos: `engine/eval/labels.json` and the images in `engine/eval/images/`.

use std::path::Path;

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
    /// Crops and re-encodes of another photo: detection only, no verification.
    pub derived: bool,
    pub faces: Vec<Face>,
    pub rgb: Vec<u8>,
    pub width: usize,
    pub height: usize,
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
        let (rgb, width, height) = load_rgb(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        photos.push(Photo {
            name: name.clone(),
            split: info["split"].as_str().unwrap_or("heldout").to_string(),
            derived: info.get("same_photo_as").is_some(),
            faces,
            rgb,
            width,
            height,
        });
    }
    Ok(photos)
}

/// RGB8 pixels of a PNG/JPEG (the workspace's `image` features) or a binary PPM (P6, which
/// the `image` crate only reads with its `pnm` feature). None of the photos has an EXIF
/// orientation other than 1 (labels.json), so none is applied.
fn load_rgb(path: &Path) -> Result<(Vec<u8>, usize, usize), Error> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ppm")) {
        return read_ppm(&std::fs::read(path)?);
    }
    let img = image::open(path)?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    Ok((img.into_raw(), w, h))
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
