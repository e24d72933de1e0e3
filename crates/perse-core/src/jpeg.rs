//! One pass over a JPEG's segments before the scan: dimensions, EXIF orientation, and the
//! structural checks a decoder would make on its headers (segment bounds, frame header,
//! Huffman and quantisation tables, EXIF directory bounds).
//!
//! Why not ask the `image` crate: its decoder builds full Huffman lookup tables just to read
//! the header, twice per call (dimensions, then orientation). On the upload path of every
//! detect that was the largest single cost of the whole SDK, about 15% of its CPU. This pass
//! reads the same bytes without building anything.

/// What the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegInfo {
    pub width: u32,
    pub height: u32,
    /// The EXIF orientation tag (1..=8), when there is one.
    pub orientation: Option<u8>,
}

/// Scans `b` (which starts with the JPEG SOI marker) up to its first scan.
pub fn scan(b: &[u8]) -> Result<JpegInfo, String> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err("no start-of-image marker".into());
    }
    let mut pos = 2;
    let mut frame: Option<(u32, u32)> = None;
    let mut orientation = None;
    loop {
        if pos >= b.len() || b[pos] != 0xFF {
            return Err("a marker is missing where one should be".into());
        }
        while pos < b.len() && b[pos] == 0xFF {
            pos += 1; // fill bytes
        }
        let marker = *b.get(pos).ok_or("the file ends inside a marker")?;
        pos += 1;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue; // standalone markers carry no length
        }
        if marker == 0xD9 {
            return Err("the image ends before any image data".into());
        }
        let len = b
            .get(pos..pos + 2)
            .map(|x| u16::from_be_bytes([x[0], x[1]]) as usize)
            .ok_or("the file ends inside a segment header")?;
        let seg = b
            .get(pos + 2..pos + len)
            .filter(|_| len >= 2)
            .ok_or("a segment runs past the end of the file")?;
        match marker {
            0xDA => {
                let (width, height) = frame.ok_or("the image data starts before the frame header")?;
                check_scan(seg)?;
                return Ok(JpegInfo {
                    width,
                    height,
                    orientation,
                });
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => frame = Some(check_frame(seg)?),
            0xC4 => check_huffman(seg)?,
            0xDB => check_quant(seg)?,
            0xE1 if seg.starts_with(b"Exif\0\0") => orientation = exif_orientation(&seg[6..])?,
            _ => {}
        }
        pos += len;
    }
}

/// SOFn: precision, height, width, and one 3-byte entry per component.
fn check_frame(s: &[u8]) -> Result<(u32, u32), String> {
    let [precision, h0, h1, w0, w1, n, ..] = *s else {
        return Err("the frame header is too short".into());
    };
    let (height, width) = (u16::from_be_bytes([h0, h1]), u16::from_be_bytes([w0, w1]));
    if !(2..=16).contains(&precision) || width == 0 || height == 0 || !(1..=4).contains(&n) {
        return Err(format!(
            "the frame header is invalid ({width}x{height}, {n} components, {precision}-bit)"
        ));
    }
    if s.len() != 6 + 3 * n as usize {
        return Err("the frame header's length does not match its component count".into());
    }
    Ok((u32::from(width), u32::from(height)))
}

/// SOS: component count and one 2-byte entry each, then 3 bytes of spectral selection.
fn check_scan(s: &[u8]) -> Result<(), String> {
    let n = *s.first().ok_or("the scan header is empty")? as usize;
    if !(1..=4).contains(&n) || s.len() != 1 + 2 * n + 3 {
        return Err("the scan header is invalid".into());
    }
    Ok(())
}

/// DHT: one or more tables; each has 16 code counts that must form a valid prefix code.
fn check_huffman(mut s: &[u8]) -> Result<(), String> {
    while !s.is_empty() {
        let (class, id) = (s[0] >> 4, s[0] & 0x0F);
        let counts = s.get(1..17).ok_or("a Huffman table is truncated")?;
        if class > 1 || id > 3 {
            return Err(format!("a Huffman table has an invalid class or id ({class}, {id})"));
        }
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut codes = 0u32;
        for (i, &c) in counts.iter().enumerate() {
            codes += u32::from(c);
            if codes > 1 << (i + 1) {
                return Err("a Huffman table has more codes than its code lengths allow".into());
            }
            codes <<= 1;
        }
        if total == 0 || total > 256 || s.len() < 17 + total {
            return Err("a Huffman table's symbol count is invalid".into());
        }
        s = &s[17 + total..];
    }
    Ok(())
}

/// DQT: one or more 64-entry tables of 8- or 16-bit values.
fn check_quant(mut s: &[u8]) -> Result<(), String> {
    while !s.is_empty() {
        let (precision, id) = (s[0] >> 4, s[0] & 0x0F);
        if precision > 1 || id > 3 {
            return Err(format!(
                "a quantisation table has an invalid precision or id ({precision}, {id})"
            ));
        }
        let size = 1 + 64 * (precision as usize + 1);
        if s.len() < size {
            return Err("a quantisation table is truncated".into());
        }
        s = &s[size..];
    }
    Ok(())
}

/// Checks the TIFF header and first directory of an EXIF block against its bounds (decoders
/// that trust them read past the segment) and reads the orientation tag.
pub fn exif_orientation(tiff: &[u8]) -> Result<Option<u8>, String> {
    let big = match tiff.get(0..4) {
        Some(b"MM\0*") => true,
        Some(b"II*\0") => false,
        _ => return Err("corrupt EXIF metadata (bad TIFF header)".into()),
    };
    let read16 = |o: usize| {
        tiff.get(o..o + 2).map(|x| {
            if big {
                u16::from_be_bytes([x[0], x[1]])
            } else {
                u16::from_le_bytes([x[0], x[1]])
            }
        })
    };
    let read32 = |o: usize| {
        tiff.get(o..o + 4).map(|x| {
            let a = [x[0], x[1], x[2], x[3]];
            if big {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        })
    };
    let ifd = read32(4).ok_or("corrupt EXIF metadata (truncated TIFF header)")? as usize;
    let count = read16(ifd).ok_or("corrupt EXIF metadata (the first directory lies outside the segment)")? as usize;
    if ifd + 2 + count * 12 > tiff.len() {
        return Err(format!(
            "corrupt EXIF metadata (the first directory claims {count} entries, more than the segment holds)"
        ));
    }
    for i in 0..count {
        let e = ifd + 2 + i * 12;
        // Tag 0x0112 (Orientation), type SHORT, count 1: the value sits in the entry itself.
        if read16(e) == Some(0x0112) && read16(e + 2) == Some(3) {
            return Ok(read16(e + 8)
                .and_then(|v| u8::try_from(v).ok())
                .filter(|v| (1..=8).contains(v)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../__test__/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Same answers as the `image` crate on the fixtures, and the same refusals.
    #[test]
    fn agrees_with_the_image_crate() {
        use image::ImageDecoder;
        let names = [
            "astronaut.jpg",
            "hopper.jpg",
            "astronaut-crop.jpg",
            "astronaut-3000-q97.jpg",
            "rocket.jpg",
        ];
        for name in names
            .into_iter()
            .map(String::from)
            .chain((2..=8).map(|o| format!("hopper-exif-orientation-{o}.jpg")))
        {
            let b = fixture(&name);
            let info = scan(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut d = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&b)).unwrap();
            assert_eq!((info.width, info.height), d.dimensions(), "{name}");
            let want = d.orientation().unwrap();
            let got = image::metadata::Orientation::from_exif(info.orientation.unwrap_or(1)).unwrap();
            assert_eq!(got, want, "{name}");
        }
        assert!(scan(&fixture("truncated.jpg")[..200]).is_err());
        assert!(scan(&fixture("invalid-exif.jpg")).is_err());
        assert!(scan(b"\xFF\xD8\xFF\xD9").is_err());
    }

    #[test]
    fn refuses_broken_tables() {
        let good = fixture("astronaut.jpg");
        let dht = good.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
        let mut bad = good.clone();
        for i in 0..16 {
            bad[dht + 5 + i] = 0xFF; // every code length claims 255 codes
        }
        assert!(scan(&bad).unwrap_err().contains("Huffman"));
        let sof = good
            .windows(2)
            .position(|w| w == [0xFF, 0xC0] || w == [0xFF, 0xC2])
            .unwrap();
        let mut bad = good.clone();
        bad[sof + 7] = 0;
        bad[sof + 8] = 0; // width 0
        assert!(scan(&bad).unwrap_err().contains("frame header"));
    }
}
