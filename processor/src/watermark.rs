//! Watermarks (PROTOCOL §3): an image or a line of text, made into an RGBA mark once per
//! rule, then drawn over every frame at a gravity with offsets, or tiled (`batch`),
//! with `dissolve` as its opacity.

use image::{imageops, DynamicImage, RgbaImage};

use crate::decode::{self, Frames};
use crate::error::{ProcessError, Result};
use crate::geometry;
use crate::limits::Limits;
use crate::ops;
use crate::rule::{Mark, MarkImage, ScaleBy, Watermark};

/// The mark for an image of `w`×`h`: decoded, scaled and faded, ready to draw.
pub fn render(wm: &Watermark, w: u32, h: u32, limits: &Limits) -> Result<RgbaImage> {
    let mut mark = match &wm.mark {
        Mark::Image {
            source,
            blogo,
            scale,
        } => {
            let MarkImage::Bytes(bytes) = source else {
                return Err(ProcessError::InvalidArgument(
                    "the watermark image was not fetched (only a server can read it from a bucket)"
                        .into(),
                ));
            };
            let d = decode::decode(bytes, limits, Frames::First)?;
            if d.source.frames > 1 {
                return Err(ProcessError::InvalidArgument(
                    "an animated watermark image is not accepted".into(),
                ));
            }
            let first = d
                .frames
                .into_iter()
                .next()
                .ok_or_else(|| ProcessError::InvalidImageFormat("empty watermark".into()))?;
            let mut m = first.image;
            if let Some((by, permille)) = scale {
                let (mw, mh) = (m.width() as f64, m.height() as f64);
                let f = match by {
                    ScaleBy::Width => w as f64 * *permille as f64 / 1000.0 / mw,
                    ScaleBy::Height => h as f64 * *permille as f64 / 1000.0 / mh,
                    ScaleBy::Area => {
                        ((w as f64 * h as f64 * *permille as f64 / 1000.0) / (mw * mh)).sqrt()
                    }
                };
                let (nw, nh) = (
                    ((mw * f).round() as u32).max(1),
                    ((mh * f).round() as u32).max(1),
                );
                limits.check_output(nw, nh, "watermark")?;
                m = ops::resize(&m, nw, nh)?;
            }
            if m.width() > w || m.height() > h {
                match blogo {
                    Some(1) => {
                        let f = (w as f64 / m.width() as f64).min(h as f64 / m.height() as f64);
                        let (nw, nh) = (
                            ((m.width() as f64 * f) as u32).max(1),
                            ((m.height() as f64 * f) as u32).max(1),
                        );
                        m = ops::resize(&m, nw, nh)?;
                    }
                    Some(2) => m = ops::crop(&m, 0, 0, m.width().min(w), m.height().min(h)),
                    _ => {}
                }
            }
            m.to_rgba8()
        }
        Mark::Text {
            text,
            size,
            fill,
            shadow,
        } => crate::text::render(text, *size, *fill, *shadow)?,
    };
    if wm.batch && wm.degree != 0.0 {
        mark = ops::rotate(&DynamicImage::ImageRgba8(mark), wm.degree).to_rgba8();
    }
    if wm.dissolve < 100 {
        for p in mark.pixels_mut() {
            p.0[3] = ((u32::from(p.0[3]) * u32::from(wm.dissolve) + 50) / 100) as u8;
        }
    }
    Ok(mark)
}

/// Draw `mark` over `img` (as RGBA, so transparency survives for PNG/WebP outputs).
pub fn apply(img: &DynamicImage, mark: &RgbaImage, wm: &Watermark) -> DynamicImage {
    let mut base = img.to_rgba8();
    let (w, h) = base.dimensions();
    let (mw, mh) = mark.dimensions();
    if wm.batch {
        let step_x = i64::from(mw + wm.dx.max(1));
        let step_y = i64::from(mh + wm.dy.max(1));
        let mut y = 0i64;
        while y < i64::from(h) {
            let mut x = 0i64;
            while x < i64::from(w) {
                imageops::overlay(&mut base, mark, x, y);
                x += step_x;
            }
            y += step_y;
        }
    } else {
        let (x, y) = geometry::anchor(wm.gravity, w, h, mw, mh, wm.dx, wm.dy);
        imageops::overlay(&mut base, mark, i64::from(x), i64::from(y));
    }
    let keeps_alpha = img.color().has_alpha();
    let out = DynamicImage::ImageRgba8(base);
    if keeps_alpha {
        out
    } else {
        // Opaque in, opaque out: the mark is blended, the canvas had no transparency.
        DynamicImage::ImageRgb8(out.to_rgb8())
    }
}
