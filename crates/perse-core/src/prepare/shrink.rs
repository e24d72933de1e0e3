//! Decoding at a reduced scale ("shrink on load"), so a large JPEG or PNG never exists at full
//! size in memory: a JPEG is decoded with DCT scaling (1/2, 1/4 or 1/8, as libjpeg does), a
//! PNG row by row into a box filter that keeps one row of sums. A 6300x6300 PNG of 125 KB
//! decoded at 1/2 costs 30 MB of RGB instead of 120 MB (and its RGBA and conversion copies).
//! Used by `Fit` (the client) and by the local server's analysis, which share this one decoder.

use std::io::Cursor;

use image::RgbImage;

use super::invalid;
use crate::error::Result;
use crate::image::ImageFormat;

/// The JPEG DCT scaling denominator (1, 2, 4 or 8) used for a long side of `long` pixels
/// decoded for `target`: the largest that still leaves at least `target`.
pub(super) fn dct_scale(long: u64, target: u64) -> u64 {
    if long < 2 * target {
        return 1;
    }
    [8, 4, 2].into_iter().find(|s| long / s >= target).unwrap_or(1)
}

/// Decodes a JPEG or PNG to RGB (transparency composited onto white), shrunk on each side by
/// about the factor that `factor(width, height)` returns for the stored dimensions (at least
/// 1; called before any pixel buffer exists, so it may also refuse the image). A JPEG is
/// shrunk by the power of two at or below the factor; a PNG by the factor itself, each output
/// pixel the mean of its block (nearest pixel for an interlaced PNG). Callers read the result's
/// dimensions for the actual scale.
pub fn decode_shrunk(
    bytes: &[u8],
    format: ImageFormat,
    factor: impl FnOnce(u32, u32) -> Result<u32>,
) -> Result<RgbImage> {
    match format {
        ImageFormat::Jpeg => jpeg(bytes, factor),
        ImageFormat::Png => png(bytes, factor),
        other => Err(invalid(format!(
            "{} images cannot be decoded at a reduced scale",
            other.name()
        ))),
    }
}

fn jpeg(bytes: &[u8], factor: impl FnOnce(u32, u32) -> Result<u32>) -> Result<RgbImage> {
    let err = |e: jpeg_decoder::Error| invalid(format!("the JPEG image cannot be decoded: {e}"));
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().map_err(err)?;
    let info = d.info().ok_or_else(|| invalid("the JPEG image has no frame".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let f = factor(w, h)?.max(1);
    let dct = [8, 4, 2, 1].into_iter().find(|s| *s <= f).unwrap_or(1);
    if dct > 1 {
        d.scale(w.div_ceil(dct) as u16, h.div_ceil(dct) as u16).map_err(err)?;
    }
    let pixels = d.decode().map_err(err)?;
    let info = d.info().ok_or_else(|| invalid("the JPEG image has no frame".into()))?;
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|l| [*l, *l, *l]).collect(),
        jpeg_decoder::PixelFormat::L16 => pixels.chunks_exact(2).flat_map(|c| [c[0], c[0], c[0]]).collect(),
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|c| {
                let k = 255 - c[3] as u16;
                [c[0], c[1], c[2]].map(|v| ((255 - v as u16) * k / 255) as u8)
            })
            .collect(),
    };
    RgbImage::from_raw(u32::from(info.width), u32::from(info.height), rgb)
        .ok_or_else(|| invalid("the JPEG image decoded to an unexpected size".into()))
}

fn png(bytes: &[u8], factor: impl FnOnce(u32, u32) -> Result<u32>) -> Result<RgbImage> {
    let err = |e: png::DecodingError| invalid(format!("the PNG image cannot be decoded: {e}"));
    let mut d = png::Decoder::new(Cursor::new(bytes));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut r = d.read_info().map_err(err)?;
    let (w, h, interlaced) = (r.info().width, r.info().height, r.info().interlaced);
    let f = factor(w, h)?.max(1);
    let channels = r.output_color_type().0.samples();
    let (ow, oh) = (w.div_ceil(f), h.div_ceil(f));
    let mut out = RgbImage::new(ow, oh);
    let short = || invalid("the PNG image ends before its last row".into());
    if interlaced {
        // Rows come pass by pass: keep the pixels that fall on the grid of the output.
        for (x0, dx, y0, dy) in ADAM7 {
            if w <= x0 || h <= y0 {
                continue; // the pass is empty: the decoder skips it
            }
            let lines = (h - y0).div_ceil(dy);
            for line in 0..lines {
                let row = r.next_row().map_err(err)?.ok_or_else(short)?;
                let y = y0 + line * dy;
                if y % f != 0 {
                    continue;
                }
                for (i, px) in row.data().chunks_exact(channels).enumerate() {
                    let x = x0 + i as u32 * dx;
                    if x % f == 0 {
                        out.put_pixel(x / f, y / f, image::Rgb(rgb(px)));
                    }
                }
            }
        }
        return Ok(out);
    }
    // One row of sums; each finished band of `f` rows becomes one output row.
    let mut sums = vec![0u32; ow as usize * 3];
    let mut rows = 0;
    for y in 0..h {
        let row = r.next_row().map_err(err)?.ok_or_else(short)?;
        for (x, px) in row.data().chunks_exact(channels).take(w as usize).enumerate() {
            let o = (x / f as usize) * 3;
            let [cr, cg, cb] = rgb(px);
            sums[o] += u32::from(cr);
            sums[o + 1] += u32::from(cg);
            sums[o + 2] += u32::from(cb);
        }
        rows += 1;
        if rows == f || y + 1 == h {
            let oy = y / f;
            for ox in 0..ow {
                let n = (f.min(w - ox * f) * rows).max(1);
                let o = ox as usize * 3;
                let mean = |s: u32| ((s + n / 2) / n) as u8;
                out.put_pixel(
                    ox,
                    oy,
                    image::Rgb([mean(sums[o]), mean(sums[o + 1]), mean(sums[o + 2])]),
                );
            }
            sums.fill(0);
            rows = 0;
        }
    }
    Ok(out)
}

/// Adam7's seven passes: (x offset, x step, y offset, y step).
const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 8, 0, 8),
    (4, 8, 0, 8),
    (0, 4, 4, 8),
    (2, 4, 0, 4),
    (0, 2, 2, 4),
    (1, 2, 0, 2),
    (0, 1, 1, 2),
];

/// One 8-bit pixel of 1 to 4 channels (grey, grey + alpha, RGB, RGBA) as RGB on white.
fn rgb(px: &[u8]) -> [u8; 3] {
    let on_white = |c: u8, a: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
    match *px {
        [g] => [g; 3],
        [g, a] => [on_white(g, a); 3],
        [r, g, b] => [r, g, b],
        [r, g, b, a] => [on_white(r, a), on_white(g, a), on_white(b, a)],
        _ => [0; 3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `w` x `h` whose pixel (x, y) is (x, y, x ^ y) mod 256.
    fn png_of(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(png::ColorType::Rgb);
        e.set_depth(png::BitDepth::Eight);
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, (x ^ y) as u8]))
            .collect();
        let mut wr = e.write_header().unwrap();
        wr.write_image_data(&data).unwrap();
        drop(wr);
        out
    }

    #[test]
    fn a_png_shrinks_by_block_means_and_matches_a_full_decode_at_factor_1() {
        let bytes = png_of(37, 21);
        let full = decode_shrunk(&bytes, ImageFormat::Png, |_, _| Ok(1)).unwrap();
        let reference = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(full, reference);
        let half = decode_shrunk(&bytes, ImageFormat::Png, |w, h| {
            assert_eq!((w, h), (37, 21));
            Ok(4)
        })
        .unwrap();
        assert_eq!(half.dimensions(), (10, 6));
        // Block (1, 0): x 4..8, y 0..4: mean x 5.5 -> 6 (rounded), mean y 1.5 -> 2.
        assert_eq!(half.get_pixel(1, 0).0[..2], [6, 2]);
        // The last column is one pixel wide (x 36) and the last row 1 pixel tall (y 20).
        assert_eq!(half.get_pixel(9, 5).0[..2], [36, 20]);
    }

    /// 29x17 PNGs written by sharp (libvips), each plain and Adam7-interlaced.
    const PNGS: [(&str, &[u8], &[u8]); 3] = [
        (
            "grey",
            include_bytes!("../../tests/data/png-grey.png"),
            include_bytes!("../../tests/data/png-grey-interlaced.png"),
        ),
        (
            "grey + alpha",
            include_bytes!("../../tests/data/png-grey-alpha.png"),
            include_bytes!("../../tests/data/png-grey-alpha-interlaced.png"),
        ),
        (
            "RGBA",
            include_bytes!("../../tests/data/png-rgba.png"),
            include_bytes!("../../tests/data/png-rgba-interlaced.png"),
        ),
    ];

    #[test]
    fn interlaced_grey_and_alpha_pngs_decode_on_the_grid() {
        for (what, flat, laced) in PNGS {
            let a = decode_shrunk(flat, ImageFormat::Png, |_, _| Ok(1)).unwrap();
            let composited = super::super::fit::flatten(image::load_from_memory(flat).unwrap());
            assert_eq!(a, composited, "{what}: the same pixels as the image crate's, on white");
            let b = decode_shrunk(laced, ImageFormat::Png, |_, _| Ok(1)).unwrap();
            assert_eq!(a, b, "{what}");
            let c = decode_shrunk(laced, ImageFormat::Png, |_, _| Ok(3)).unwrap();
            assert_eq!(c.dimensions(), (10, 6));
            assert_eq!(
                c.get_pixel(2, 1),
                a.get_pixel(6, 3),
                "{what}: nearest pixel of the grid"
            );
        }
    }

    #[test]
    fn a_jpeg_shrinks_by_a_power_of_two_and_the_factor_can_refuse() {
        let img = RgbImage::from_fn(400, 300, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut jpg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpg, 90)
            .encode(img.as_raw(), 400, 300, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let shrunk = decode_shrunk(&jpg, ImageFormat::Jpeg, |_, _| Ok(3)).unwrap();
        assert_eq!(shrunk.dimensions(), (200, 150));
        let e = decode_shrunk(&jpg, ImageFormat::Jpeg, |_, _| Err(invalid("too big".into()))).unwrap_err();
        assert!(e.to_string().contains("too big"));
    }
}
