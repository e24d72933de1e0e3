//! Image inputs: where the bytes come from, what they are (by content, never by name), and
//! the checks that run before anything is uploaded. Reading a source within its byte budget
//! is `prepare/input.rs`'s.

use std::path::PathBuf;

use bytes::Bytes;

use crate::error::{ErrorKind, Result};

/// Where an image comes from. Paths are read with tokio's blocking pool, off the JS thread,
/// and only when they name a regular file within the size budget.
#[derive(Clone, Debug)]
pub enum ImageSource {
    Bytes(Bytes),
    Path(PathBuf),
}

/// A format recognised by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    WebP,
    Bmp,
    Tiff,
    Heif,
    Avif,
}

impl ImageFormat {
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Gif => "GIF",
            ImageFormat::WebP => "WebP",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Heif => "HEIF/HEIC",
            ImageFormat::Avif => "AVIF",
        }
    }

    /// The content type and filename used for the multipart part; only the API's two formats.
    pub fn upload_mime(self) -> Option<(&'static str, &'static str)> {
        match self {
            ImageFormat::Jpeg => Some(("image/jpeg", "image.jpg")),
            ImageFormat::Png => Some(("image/png", "image.png")),
            _ => None,
        }
    }
}

/// Identifies an image format from its first bytes.
pub fn sniff(b: &[u8]) -> Option<ImageFormat> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else if b.starts_with(b"BM") && b.len() >= 26 {
        Some(ImageFormat::Bmp)
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        Some(ImageFormat::Tiff)
    } else if b.len() >= 12 && &b[4..8] == b"ftyp" && matches!(&b[8..12], b"avif" | b"avis") {
        Some(ImageFormat::Avif)
    } else if b.len() >= 12
        && &b[4..8] == b"ftyp"
        && matches!(
            &b[8..12],
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1"
        )
    {
        Some(ImageFormat::Heif)
    } else {
        None
    }
}

/// What the first bytes look like, for error messages ("HTML text", "a WebP image").
pub fn describe(b: &[u8]) -> String {
    if let Some(f) = sniff(b) {
        return format!("a {} image", f.name());
    }
    if b.starts_with(b"%PDF-") {
        return "a PDF document (render its page to a JPEG first, for example with pdf-to-img, or ask for a photo)"
            .into();
    }
    let head = &b[..b.len().min(64)];
    let text = head.iter().all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace());
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    if text && (lower.contains("<html") || lower.contains("<!doctype")) {
        "HTML text".into()
    } else if text {
        "plain text".into()
    } else {
        "unrecognised binary data".into()
    }
}

/// The `'validate'` check: JPEG or PNG by content, not empty, not truncated, within `max_bytes`.
pub fn validate_upload(bytes: &[u8], max_bytes: usize) -> Result<ImageFormat> {
    if bytes.is_empty() {
        return Err(ErrorKind::EmptyFile("the image is empty (0 bytes)".into()).into());
    }
    let format = match sniff(bytes) {
        Some(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        Some(other) => {
            return Err(ErrorKind::InvalidFileType(format!(
                "the image is {} but the API accepts only JPEG or PNG (prepare: 'auto', the default, converts it)",
                other.name()
            ))
            .into())
        }
        None => {
            return Err(ErrorKind::InvalidFileType(format!(
                "the image is not a JPEG or PNG: its content looks like {}",
                describe(bytes)
            ))
            .into())
        }
    };
    if !is_complete(bytes, format) {
        return Err(ErrorKind::InvalidFileType(format!(
            "the {} image is truncated (its end marker is missing)",
            format.name()
        ))
        .into());
    }
    if bytes.len() > max_bytes {
        return Err(ErrorKind::FileTooLarge(format!(
            "the image is {} bytes, over the {max_bytes}-byte upload limit",
            bytes.len()
        ))
        .into());
    }
    Ok(format)
}

/// Cheap truncation check: a JPEG ends with EOI (allowing trailing padding), a PNG with IEND.
fn is_complete(b: &[u8], f: ImageFormat) -> bool {
    match f {
        ImageFormat::Jpeg => {
            // From the end: the marker is almost always in the last two bytes.
            let tail = &b[b.len().saturating_sub(4096)..];
            tail.windows(2).rev().any(|w| w == [0xFF, 0xD9])
        }
        ImageFormat::Png => {
            let tail = &b[b.len().saturating_sub(64)..];
            tail.windows(4).any(|w| w == b"IEND")
        }
        _ => true,
    }
}

/// Like [`describe`] but for response bodies ("HTML text", "JSON"-ish, "binary data").
pub fn describe_text(b: &[u8]) -> String {
    if b.starts_with(b"%PDF-") {
        return "a PDF document".into();
    }
    let d = describe(b);
    if d == "plain text"
        && b.iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|c| *c == b'{' || *c == b'[')
    {
        "JSON".into()
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageFormat::Png));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(describe(b"<!DOCTYPE html><html>"), "HTML text");
    }

    #[test]
    fn validate_codes() {
        assert_eq!(validate_upload(b"", 10).unwrap_err().code(), "empty_file");
        assert_eq!(
            validate_upload(b"<html></html>", 100).unwrap_err().code(),
            "invalid_file_type"
        );
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9];
        assert_eq!(validate_upload(&jpeg, 100).unwrap(), ImageFormat::Jpeg);
        assert_eq!(validate_upload(&jpeg, 5).unwrap_err().code(), "file_too_large");
        assert_eq!(
            validate_upload(&jpeg[..6], 100).unwrap_err().code(),
            "invalid_file_type"
        );
    }
}
