//! What was uploaded for an image, and how its pixels map back to the caller's photo as a
//! viewer displays it (EXIF orientation applied, full resolution), so that a box the server
//! returns can be drawn on the photo the user sent.

use serde::Serialize;

use super::Prepared;
use crate::image::ImageFormat;

/// The image the caller gave, as stored in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// Pixel dimensions as stored (before the EXIF orientation is applied).
    pub stored_width: u32,
    pub stored_height: u32,
    /// EXIF orientation, 1 to 8 (1: upright, or no tag).
    pub orientation: u8,
    pub format: ImageFormat,
}

impl Source {
    /// Width and height as a viewer displays the photo: orientations 5 to 8 swap them.
    pub fn displayed(&self) -> (u32, u32) {
        match self.orientation {
            5..=8 => (self.stored_height, self.stored_width),
            _ => (self.stored_width, self.stored_height),
        }
    }
}

crate::wire_model! {
    /// What was uploaded for one image (after `prepare`).
    #[derive(Clone, Copy, Debug, PartialEq, Serialize)]
    pub struct Upload as "Uploaded" {
        /// Pixel width of the uploaded image.
        pub width: u32,
        /// Pixel height of the uploaded image.
        pub height: u32,
        #[serde(serialize_with = "format_name")]
        pub format: ImageFormat,
        /// Size of the uploaded file.
        pub bytes: usize,
        /// Uploaded pixels per displayed pixel of the original photo (1 when sent as it is).
        pub scale: f64,
        /// The photo's EXIF orientation was applied to the uploaded pixels.
        pub orientation_applied: bool,
        /// The photo it came from (not sent to JavaScript).
        #[serde(skip)]
        pub source: Source,
    }
}

impl crate::layout::Wire for Source {
    fn kind() -> crate::layout::Kind {
        crate::layout::Kind::Skip
    }
    fn put(&self, _: &mut crate::layout::Sink) {}
}

#[cfg(feature = "samples")]
impl crate::layout::Sample for Source {
    fn sample(_: &mut crate::layout::Samples) -> Self {
        Source {
            stored_width: 1,
            stored_height: 1,
            orientation: 1,
            format: ImageFormat::Jpeg,
        }
    }
}

fn format_name<S: serde::Serializer>(f: &ImageFormat, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *f == ImageFormat::Png { "png" } else { "jpeg" })
}

impl Upload {
    pub fn of(p: &Prepared) -> Self {
        let (dw, _) = p.source.displayed();
        let upright = p.orientation_applied || p.source.orientation == 1;
        Upload {
            width: p.width,
            height: p.height,
            format: p.format,
            bytes: p.data.len(),
            scale: if upright {
                f64::from(p.width) / f64::from(dw.max(1))
            } else {
                1.0
            },
            orientation_applied: p.orientation_applied,
            source: p.source,
        }
    }

    /// A point `[x, y]` in uploaded pixels, in the displayed photo's pixels.
    pub fn point_to_source(&self, [x, y]: [f64; 2]) -> [f64; 2] {
        let (dw, dh) = self.source.displayed();
        if self.orientation_applied || self.source.orientation == 1 {
            return [
                x * f64::from(dw) / f64::from(self.width.max(1)),
                y * f64::from(dh) / f64::from(self.height.max(1)),
            ];
        }
        // Sent as stored, unrotated: the server's pixels are the stored ones.
        let (w, h) = (
            f64::from(self.source.stored_width),
            f64::from(self.source.stored_height),
        );
        match self.source.orientation {
            2 => [w - x, y],
            3 => [w - x, h - y],
            4 => [x, h - y],
            5 => [y, x],
            6 => [h - y, x],
            7 => [h - y, w - x],
            8 => [y, w - x],
            _ => [x, y],
        }
    }

    /// A box `[x, y, width, height]` in uploaded pixels, in the displayed photo's pixels.
    pub fn box_to_source(&self, [x, y, w, h]: [f64; 4]) -> [f64; 4] {
        let [ax, ay] = self.point_to_source([x, y]);
        let [bx, by] = self.point_to_source([x + w, y + h]);
        let round = |v: f64| (v * 100.0).round() / 100.0;
        [
            round(ax.min(bx)),
            round(ay.min(by)),
            round((ax - bx).abs()),
            round((ay - by).abs()),
        ]
    }
}
