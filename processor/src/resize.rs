//! Lanczos3 resizing with fast_image_resize (runtime SIMD dispatch), one band of output rows
//! at a time so that a deadline stops even a huge resize within a band's work.
//!
//! A band is the same resize as the whole, restricted by a source crop: fast_image_resize
//! places every output row from the crop's top and scale and clamps the filter to the whole
//! source, not to the crop, so a band reads the rows the full resize would, with the same
//! weights; only their fixed-point precision, chosen per band from its largest weight, may
//! round a level differently. Alpha is premultiplied once for the whole source (as the
//! one-shot resize does internally) and divided back per band.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GenericImageView, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

use crate::deadline::Deadline;
use crate::error::{ProcessError, Result};

/// Filter taps one band may apply: a fraction of a second of work, so that the deadline is
/// seen promptly, yet enough that a thumbnail is one band (the one-shot resize itself) and
/// the per-band set-up (the horizontal coefficients) stays negligible.
const BAND_WORK: u64 = 1 << 28;

/// Lanczos3's support, in source pixels per unit of scale.
const LANCZOS_SUPPORT: u64 = 3;

fn failed(e: impl std::fmt::Display) -> ProcessError {
    ProcessError::Encode(format!("resize: {e}"))
}

/// `img` resized to `width`×`height` (an unchanged size is a copy).
pub fn resize(
    img: &DynamicImage,
    width: u32,
    height: u32,
    deadline: Deadline,
) -> Result<DynamicImage> {
    let rows = band_rows(img.dimensions(), (width, height));
    resize_in_bands(img, (width, height), rows, deadline)
}

/// [`resize`] with `rows` output rows per band.
fn resize_in_bands(
    img: &DynamicImage,
    (width, height): (u32, u32),
    rows: u32,
    deadline: Deadline,
) -> Result<DynamicImage> {
    if (width, height) == img.dimensions() {
        return Ok(img.clone());
    }
    let (kind, src) = match img {
        DynamicImage::ImageLuma8(i) => (PixelType::U8, i.as_raw()),
        DynamicImage::ImageLumaA8(i) => (PixelType::U8x2, i.as_raw()),
        DynamicImage::ImageRgb8(i) => (PixelType::U8x3, i.as_raw()),
        DynamicImage::ImageRgba8(i) => (PixelType::U8x4, i.as_raw()),
        other => {
            let normalised = crate::decode::normalise(other.clone());
            return resize_in_bands(&normalised, (width, height), rows, deadline);
        }
    };
    let (w, h) = img.dimensions();
    let pixels = resize_samples(src, (w, h), (width, height), kind, rows, deadline)?;
    let image = match kind {
        PixelType::U8 => GrayImage::from_raw(width, height, pixels).map(DynamicImage::from),
        PixelType::U8x2 => GrayAlphaImage::from_raw(width, height, pixels).map(DynamicImage::from),
        PixelType::U8x3 => RgbImage::from_raw(width, height, pixels).map(DynamicImage::from),
        _ => RgbaImage::from_raw(width, height, pixels).map(DynamicImage::from),
    };
    image.ok_or_else(|| failed("short output buffer"))
}

/// Output rows per band for a resize from `from` to `to`: what keeps a band's two passes
/// (vertical over the source columns, horizontal over the output row) within [`BAND_WORK`].
pub(crate) fn band_rows(from: (u32, u32), to: (u32, u32)) -> u32 {
    let taps =
        |src: u32, dst: u32| 2 * LANCZOS_SUPPORT * u64::from(src.div_ceil(dst.max(1))).max(1) + 1;
    let per_row = u64::from(from.0) * taps(from.1, to.1) + u64::from(to.0) * taps(from.0, to.0);
    (BAND_WORK / per_row.max(1)).clamp(1, u64::from(to.1.max(1))) as u32
}

fn resize_samples(
    src: &[u8],
    from: (u32, u32),
    to: (u32, u32),
    kind: PixelType,
    rows: u32,
    deadline: Deadline,
) -> Result<Vec<u8>> {
    let alpha = matches!(kind, PixelType::U8x2 | PixelType::U8x4);
    let mul_div = MulDiv::default();
    // Premultiplied once, so that transparent pixels lend no colour to their neighbours.
    let premultiplied = if alpha {
        let source = ImageRef::new(from.0, from.1, src, kind).map_err(failed)?;
        let mut out = Image::new(from.0, from.1, kind);
        mul_div.multiply_alpha(&source, &mut out).map_err(failed)?;
        Some(out.into_vec())
    } else {
        None
    };
    let source = ImageRef::new(
        from.0,
        from.1,
        premultiplied.as_deref().unwrap_or(src),
        kind,
    )
    .map_err(failed)?;
    let stride = to.0 as usize * kind.size();
    let mut out = vec![0u8; stride * to.1 as usize];
    let mut resizer = Resizer::new();
    let rows = rows.max(1) as usize;
    for (i, band) in out.chunks_mut(stride * rows).enumerate() {
        deadline.check()?;
        let first = (i * rows) as u32;
        let count = (band.len() / stride) as u32;
        let mut dst = Image::from_slice_u8(to.0, count, band, kind).map_err(failed)?;
        let options = band_options(from, to, first, count);
        resizer
            .resize(&source, &mut dst, &options)
            .map_err(failed)?;
        if alpha {
            mul_div.divide_alpha_inplace(&mut dst).map_err(failed)?;
        }
    }
    Ok(out)
}

/// The source crop that output rows `first..first + count` of a `from`→`to` resize cover.
fn band_options(from: (u32, u32), to: (u32, u32), first: u32, count: u32) -> ResizeOptions {
    // Integer products are exact in f64, so the last band ends exactly at the source's edge.
    let edge = |row: u32| f64::from(row) * f64::from(from.1) / f64::from(to.1);
    let top = edge(first);
    let bottom = edge(first + count).min(f64::from(from.1));
    ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(false)
        .crop(0.0, top, f64::from(from.0), bottom - top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Deterministic noise, the hardest content for a resize to get right.
    fn noise(w: u32, h: u32, alpha: bool) -> DynamicImage {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        };
        if alpha {
            DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |_, _| {
                image::Rgba([next(), next(), next(), next()])
            }))
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |_, _| {
                image::Rgb([next(), next(), next()])
            }))
        }
    }

    /// The one-shot resize of fast_image_resize, as the reference.
    fn whole(img: &DynamicImage, w: u32, h: u32) -> DynamicImage {
        let mut dst = DynamicImage::new(w, h, img.color());
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
        Resizer::new()
            .resize(img, &mut dst, &options)
            .expect("resized");
        dst
    }

    /// The largest difference between two RGBA buffers, colours compared premultiplied:
    /// under a nearly transparent pixel, a level of difference is invisible but is
    /// multiplied by up to 255 when divided back.
    fn premultiplied_difference(a: &[u8], b: &[u8]) -> u32 {
        a.chunks_exact(4)
            .zip(b.chunks_exact(4))
            .flat_map(|(p, q)| {
                let (pa, qa) = (u32::from(p[3]), u32::from(q[3]));
                (0..3)
                    .map(move |c| (u32::from(p[c]) * pa).abs_diff(u32::from(q[c]) * qa) / 255)
                    .chain([pa.abs_diff(qa)])
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn bands_give_the_one_shot_result_within_rounding() {
        let sizes = [
            (100, 37),
            (640, 480),
            (301, 90),
            (7, 513),
            (1, 1),
            (300, 257),
            (64, 771),
        ];
        for alpha in [false, true] {
            let img = noise(301, 257, alpha);
            for (w, h) in sizes {
                let reference = whole(&img, w, h);
                // One band is the one-shot resize itself.
                let single = resize_in_bands(&img, (w, h), h, Deadline::NONE).expect("resized");
                assert_eq!(single, reference, "{w}x{h} in one band, alpha {alpha}");
                // Each band's vertical weights get their own fixed-point precision, which may
                // round a level differently from the whole image's.
                for rows in [1, 3, 16, 100] {
                    let banded =
                        resize_in_bands(&img, (w, h), rows, Deadline::NONE).expect("resized");
                    let (a, b) = (banded.to_rgba8(), reference.to_rgba8());
                    let worst = premultiplied_difference(a.as_raw(), b.as_raw());
                    assert!(
                        worst <= 2,
                        "{w}x{h} in bands of {rows}, alpha {alpha}: {worst}"
                    );
                }
            }
        }
    }

    #[test]
    fn bands_stay_small_for_large_sources() {
        assert!(band_rows((30_000, 8_000), (9_999, 2_666)) < 500);
        assert_eq!(band_rows((1, 1), (16, 16)), 16);
    }

    #[test]
    fn a_passed_deadline_stops_a_resize() {
        let img = noise(64, 64, false);
        let past = Deadline::at(Instant::now());
        assert_eq!(
            resize(&img, 4000, 4000, past).err(),
            Some(ProcessError::Deadline)
        );
    }
}
