//! Watermarks (docs/protocol.md, watermark): an image or a line of text, made into an RGBA
//! mark once per rule, then drawn over every frame at a gravity with offsets, or tiled
//! (`batch`), with `dissolve` as its opacity.

use image::{imageops, DynamicImage, RgbaImage};

use crate::deadline::Deadline;
use crate::decode::{self, Frames};
use crate::error::{ProcessError, Result};
use crate::geometry;
use crate::limits::Limits;
use crate::memory;
use crate::ops;
use crate::rule::{Mark, MarkImage, ScaleBy, Watermark};

/// The bytes of an image mark, which the server fetched in place of its URL.
fn fetched(source: &MarkImage) -> Result<&[u8]> {
    match source {
        MarkImage::Bytes(bytes) => Ok(bytes),
        MarkImage::Url(_) => Err(ProcessError::InvalidArgument(
            "the watermark image was not fetched (only a server can read it from a bucket)".into(),
        )),
    }
}

fn single_frame(frames: u32) -> Result<()> {
    if frames > 1 {
        return Err(ProcessError::InvalidArgument(
            "an animated watermark image is not accepted".into(),
        ));
    }
    Ok(())
}

/// The size of a `mark` scaled to ‰ of an `image`'s width, height or area.
fn scaled_size(by: ScaleBy, permille: u32, image: (u32, u32), mark: (u32, u32)) -> (u32, u32) {
    let (w, h) = (f64::from(image.0), f64::from(image.1));
    let (mw, mh) = (f64::from(mark.0), f64::from(mark.1));
    let p = f64::from(permille);
    let f = match by {
        ScaleBy::Width => w * p / 1000.0 / mw,
        ScaleBy::Height => h * p / 1000.0 / mh,
        ScaleBy::Area => ((w * h * p / 1000.0) / (mw * mh)).sqrt(),
    };
    (
        ((mw * f).round() as u32).max(1),
        ((mh * f).round() as u32).max(1),
    )
}

/// How `blogo` brings a mark larger than the image inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    Resize(u32, u32),
    Crop(u32, u32),
}

fn fit(blogo: Option<u8>, mark: (u32, u32), image: (u32, u32)) -> Option<Fit> {
    let ((mw, mh), (w, h)) = (mark, image);
    if mw <= w && mh <= h {
        return None;
    }
    match blogo {
        Some(1) => {
            let f = (f64::from(w) / f64::from(mw)).min(f64::from(h) / f64::from(mh));
            Some(Fit::Resize(
                ((f64::from(mw) * f) as u32).max(1),
                ((f64::from(mh) * f) as u32).max(1),
            ))
        }
        Some(2) => Some(Fit::Crop(mw.min(w), mh.min(h))),
        _ => None,
    }
}

/// What rendering a mark holds, known before any pixel exists: the finished mark (kept
/// while it is drawn on every frame) and the peak on the way to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MarkPlan {
    pub held: u64,
    pub peak: u64,
}

impl MarkPlan {
    /// A stage that reads what is held, allocates `bytes` (its result included) and keeps
    /// `result`.
    fn stage(&mut self, bytes: u64, result: u64) {
        self.peak = self.peak.max(self.held + bytes);
        self.held = result;
    }
}

/// [`render`]'s memory for an image of `size`, from the mark's header (or text layout).
pub(crate) fn plan(wm: &Watermark, size: (u32, u32), limits: &Limits) -> Result<MarkPlan> {
    let mut plan = MarkPlan { held: 0, peak: 0 };
    let mark = match &wm.mark {
        Mark::Image {
            source,
            blogo,
            scale,
        } => {
            let bytes = fetched(source)?;
            let header = decode::probe(bytes, limits)?;
            single_frame(header.frames)?;
            let decoded = memory::decode_bytes(bytes, &header, Frames::First, 1);
            plan.stage(decoded.peak, decoded.frames);
            let mut mark = (header.width, header.height);
            if let Some((by, permille)) = scale {
                let to = scaled_size(*by, *permille, size, mark);
                limits.check_output(to.0, to.1, "watermark")?;
                plan.stage(memory::resize_bytes(mark, to), memory::rgba(to.0, to.1));
                mark = to;
            }
            match fit(*blogo, mark, size) {
                Some(Fit::Resize(w, h)) => {
                    plan.stage(memory::resize_bytes(mark, (w, h)), memory::rgba(w, h));
                    mark = (w, h);
                }
                Some(Fit::Crop(w, h)) => {
                    plan.stage(memory::rgba(w, h), memory::rgba(w, h));
                    mark = (w, h);
                }
                None => {}
            }
            let rgba = memory::rgba(mark.0, mark.1);
            plan.stage(rgba, rgba);
            mark
        }
        Mark::Text {
            text,
            size: font,
            shadow,
            ..
        } => {
            let mark = crate::text::size(text, *font, *shadow)?;
            let rgba = memory::rgba(mark.0, mark.1);
            plan.stage(rgba, rgba);
            mark
        }
    };
    if wm.batch && wm.degree != 0.0 {
        let to = ops::rotate_size(mark.0, mark.1, wm.degree);
        let bytes = memory::rotate_bytes(mark, to, wm.degree);
        plan.stage(bytes, memory::rgba(to.0, to.1));
    }
    Ok(plan)
}

/// The mark for an image of `w`×`h`: decoded, scaled and faded, ready to draw.
pub fn render(
    wm: &Watermark,
    w: u32,
    h: u32,
    limits: &Limits,
    deadline: Deadline,
) -> Result<RgbaImage> {
    let mut mark = match &wm.mark {
        Mark::Image {
            source,
            blogo,
            scale,
        } => {
            let d = decode::decode(fetched(source)?, limits, Frames::First)?;
            single_frame(d.source.frames)?;
            let first = d
                .frames
                .into_iter()
                .next()
                .ok_or_else(|| ProcessError::InvalidImageFormat("empty watermark".into()))?;
            let mut m = first.image;
            if let Some((by, permille)) = scale {
                let (nw, nh) = scaled_size(*by, *permille, (w, h), (m.width(), m.height()));
                limits.check_output(nw, nh, "watermark")?;
                m = ops::resize(&m, nw, nh, deadline)?;
            }
            match fit(*blogo, (m.width(), m.height()), (w, h)) {
                Some(Fit::Resize(nw, nh)) => m = ops::resize(&m, nw, nh, deadline)?,
                Some(Fit::Crop(cw, ch)) => m = ops::crop(&m, 0, 0, cw, ch),
                None => {}
            }
            m.into_rgba8()
        }
        Mark::Text {
            text,
            size,
            fill,
            shadow,
        } => crate::text::render(text, *size, *fill, *shadow)?,
    };
    if wm.batch && wm.degree != 0.0 {
        mark = ops::rotate(&DynamicImage::ImageRgba8(mark), wm.degree, deadline)?.into_rgba8();
    }
    if wm.dissolve < 100 {
        for p in mark.pixels_mut() {
            p.0[3] = ((u32::from(p.0[3]) * u32::from(wm.dissolve) + 50) / 100) as u8;
        }
    }
    Ok(mark)
}

/// Draw `mark` over `img` (as RGBA, so transparency survives for PNG/WebP outputs), polling
/// the deadline every row of tiles.
pub fn apply(
    img: &DynamicImage,
    mark: &RgbaImage,
    wm: &Watermark,
    deadline: Deadline,
) -> Result<DynamicImage> {
    let mut base = img.to_rgba8();
    let (w, h) = base.dimensions();
    let (mw, mh) = mark.dimensions();
    if wm.batch {
        let step_x = i64::from(mw + wm.dx.max(1));
        let step_y = i64::from(mh + wm.dy.max(1));
        let mut y = 0i64;
        while y < i64::from(h) {
            deadline.check()?;
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
        Ok(out)
    } else {
        // Opaque in, opaque out: the mark is blended, the canvas had no transparency.
        Ok(DynamicImage::ImageRgb8(out.to_rgb8()))
    }
}
