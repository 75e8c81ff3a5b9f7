//! The executor: walks a parsed [`Rule`] over a decoded image, one step at a time, checking
//! the output limits before each geometry step allocates and the deadline between steps.

use std::borrow::Cow;
use std::time::Instant;

use image::DynamicImage;

use crate::decode::{Decoded, Frame};
use crate::encode::{self, Settings};
use crate::error::{ProcessError, Result};
use crate::exif;
use crate::format::Format;
use crate::geometry;
use crate::limits::Limits;
use crate::ops;
use crate::rule::{MogrOp, OutputOp, Processor, QualitySpec, Rule, View2};
use crate::{Output, OutputFacts};

/// What the rule says about encoding. Output parameters don't move pixels, so they are
/// gathered in one pass up front (a later one overrides an earlier one).
#[derive(Debug, Clone, Default)]
pub struct OutputSpec {
    pub format: Option<Format>,
    pub quality: Option<QualitySpec>,
    pub interlace: bool,
    pub strip: bool,
    pub size_limit: Option<u64>,
    pub ignore_error: bool,
    /// `cgif/<n>`: at most n frames of an animation.
    pub frame_limit: Option<u32>,
}

impl OutputSpec {
    pub fn of(rule: &Rule) -> OutputSpec {
        let mut spec = OutputSpec::default();
        let outputs = rule
            .processors
            .iter()
            .flat_map(|p| -> Box<dyn Iterator<Item = &OutputOp>> {
                match p {
                    Processor::ImageMogr2(ops) => Box::new(ops.iter().filter_map(|op| match op {
                        MogrOp::Output(o) => Some(o),
                        _ => None,
                    })),
                    Processor::ImageView2(v) => Box::new(v.output.iter()),
                    Processor::Watermark(_) => Box::new(std::iter::empty()),
                }
            });
        for op in outputs {
            match op {
                OutputOp::Format(f) => spec.format = *f,
                OutputOp::Quality(q) => spec.quality = Some(*q),
                OutputOp::Interlace(i) => spec.interlace = *i,
                OutputOp::Strip => spec.strip = true,
                OutputOp::SizeLimit(n) => spec.size_limit = Some(*n),
                OutputOp::IgnoreError => spec.ignore_error = true,
                OutputOp::FrameLimit(n) => spec.frame_limit = Some(*n),
            }
        }
        spec
    }

    pub fn format_for(&self, input: Format) -> Format {
        self.format.unwrap_or(input)
    }
}

struct Ctx<'a> {
    /// Borrowed from the shared decode until the first step makes new pixels: every rule of
    /// an upload starts from the same decoded image, and most begin with a resize, which
    /// never needed a copy of its input.
    frames: Cow<'a, [Frame]>,
    /// The size the rule sees. Equal to the frames' size, except before the first resize of
    /// a shrink-on-load decode, where the frames are smaller than the source they stand for.
    logical: (u32, u32),
    orientation: u16,
    exif: Option<Cow<'a, [u8]>>,
    limits: &'a Limits,
    deadline: Option<Instant>,
}

impl Ctx<'_> {
    fn tick(&self) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() > d => Err(ProcessError::Deadline),
            _ => Ok(()),
        }
    }

    fn size(&self) -> (u32, u32) {
        self.logical
    }

    fn actual(&self) -> (u32, u32) {
        self.frames
            .first()
            .map(|f| (f.image.width(), f.image.height()))
            .unwrap_or((0, 0))
    }

    fn each(&mut self, step: impl Fn(&DynamicImage) -> Result<DynamicImage>) -> Result<()> {
        self.tick()?;
        match &mut self.frames {
            // In place, so that an animation holds one old frame at a time beside the new ones.
            Cow::Owned(frames) => {
                for f in frames {
                    f.image = step(&f.image)?;
                }
            }
            Cow::Borrowed(frames) => {
                let stepped = frames
                    .iter()
                    .map(|f| {
                        Ok(Frame {
                            image: step(&f.image)?,
                            delay_ms: f.delay_ms,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.frames = Cow::Owned(stepped);
            }
        }
        self.logical = self.actual();
        Ok(())
    }

    /// Steps other than resizes work in source pixels: bring a shrunk decode back to the
    /// logical size first. [`needed_size`] makes this unreachable in practice; it keeps the
    /// geometry right if the two ever disagree.
    fn full_size(&mut self) -> Result<()> {
        let (w, h) = self.logical;
        if self.actual() != (w, h) {
            self.each(|img| ops::resize(img, w, h))?;
        }
        Ok(())
    }

    /// A geometry step to `w`×`h`: refuse an oversized result before allocating it.
    fn check(&self, w: u32, h: u32, what: &str) -> Result<()> {
        self.limits.check_output(w, h, what)
    }

    fn resize_to(&mut self, w: u32, h: u32, what: &str) -> Result<()> {
        self.check(w, h, what)?;
        self.each(|img| ops::resize(img, w, h))
    }
}

/// Run `rule` on `decoded`, encode, and report the result's facts.
pub fn run(
    decoded: &Decoded,
    rule: &Rule,
    original: &[u8],
    limits: &Limits,
    deadline: Option<Instant>,
) -> Result<Output> {
    let spec = OutputSpec::of(rule);
    match run_inner(decoded, rule, &spec, limits, deadline) {
        Err(e) if spec.ignore_error && e != ProcessError::Deadline => {
            let s = &decoded.source;
            Ok(Output {
                bytes: original.to_vec(),
                facts: OutputFacts {
                    format: s.format,
                    width: s.width,
                    height: s.height,
                    size: original.len() as u64,
                    quality: s.quality.unwrap_or(0),
                },
                ignored_error: Some(e.to_string()),
            })
        }
        other => other,
    }
}

fn run_inner(
    decoded: &Decoded,
    rule: &Rule,
    spec: &OutputSpec,
    limits: &Limits,
    deadline: Option<Instant>,
) -> Result<Output> {
    let source = &decoded.source;
    let format = spec.format_for(source.format);
    // GIF and WebP outputs keep the animation (up to `cgif/<n>` frames); other formats take
    // the first frame.
    let keep = if format.is_animatable() {
        spec.frame_limit.map_or(usize::MAX, |n| n as usize)
    } else {
        1
    };
    let mut ctx = Ctx {
        frames: Cow::Borrowed(&decoded.frames[..keep.min(decoded.frames.len())]),
        logical: (source.width, source.height),
        orientation: source.orientation,
        exif: source.exif.as_deref().map(Cow::Borrowed),
        limits,
        deadline,
    };
    for processor in &rule.processors {
        match processor {
            Processor::ImageMogr2(ops) => {
                for op in ops {
                    mogr_step(&mut ctx, op)?;
                }
            }
            Processor::ImageView2(v) => view2_step(&mut ctx, v)?,
            Processor::Watermark(w) => {
                ctx.full_size()?;
                ctx.tick()?;
                let (iw, ih) = ctx.size();
                let mark = crate::watermark::render(w, iw, ih, limits)?;
                ctx.each(|img| Ok(crate::watermark::apply(img, &mark, w)))?;
            }
        }
    }
    ctx.tick()?;
    let (w, h) = ctx.size();
    limits.check_output(w, h, "result")?;

    let quality = encode::resolve_quality(
        spec.quality,
        source.quality,
        source.format == Format::Jpeg && source.quality.is_some(),
    );
    let settings = Settings {
        quality,
        lossless: format == Format::Webp && spec.quality == Some(QualitySpec::Forced(100)),
        interlace: spec.interlace,
        icc: if spec.strip {
            None
        } else {
            source.icc.as_deref()
        },
        exif: if spec.strip {
            None
        } else {
            ctx.exif.as_deref()
        },
    };
    let (bytes, quality) = match spec.size_limit {
        Some(limit) => encode::encode_within(&ctx.frames, format, &settings, limit)?,
        None => (encode::encode(&ctx.frames, format, &settings)?, quality),
    };
    Ok(Output {
        facts: OutputFacts {
            format,
            width: w,
            height: h,
            size: bytes.len() as u64,
            quality: if format.is_lossy() && !settings.lossless {
                quality
            } else {
                100
            },
        },
        bytes,
        ignored_error: None,
    })
}

fn mogr_step(ctx: &mut Ctx<'_>, op: &MogrOp) -> Result<()> {
    if !matches!(
        op,
        MogrOp::Thumbnail { .. } | MogrOp::AutoOrient | MogrOp::Output(_)
    ) {
        ctx.full_size()?;
    }
    let (w, h) = ctx.size();
    match op {
        MogrOp::Thumbnail { spec, pad } => {
            let (tw, th) = geometry::thumbnail(spec, w, h);
            ctx.resize_to(tw, th, "thumbnail")?;
            if let (
                Some(color),
                crate::rule::Thumbnail::Fit {
                    width: Some(bw),
                    height: Some(bh),
                    ..
                },
            ) = (pad, spec)
            {
                ctx.check(*bw, *bh, "pad")?;
                ctx.each(|img| Ok(ops::pad(img, *bw, *bh, *color)))?;
            }
        }
        MogrOp::Crop { spec, gravity } => {
            let (x, y, cw, ch) = geometry::crop_rect(spec, *gravity, w, h);
            ctx.each(|img| Ok(ops::crop(img, x, y, cw, ch)))?;
        }
        MogrOp::Cut {
            width,
            height,
            dx,
            dy,
        } => {
            if *dx >= w || *dy >= h {
                return Err(ProcessError::InvalidArgument(format!(
                    "cut offset {dx}x{dy} is outside the {w}x{h} image"
                )));
            }
            let (cw, ch) = ((*width).min(w - dx), (*height).min(h - dy));
            ctx.each(|img| Ok(ops::crop(img, *dx, *dy, cw, ch)))?;
        }
        MogrOp::IRadius(r) => ctx.each(|img| Ok(ops::circle(img, *r)))?,
        MogrOp::RRadius(r) => ctx.each(|img| Ok(ops::rounded(img, *r)))?,
        MogrOp::Rotate(deg) => {
            let (rw, rh) = ops::rotated_size(w, h, *deg);
            ctx.check(rw, rh, "rotate")?;
            ctx.each(|img| Ok(ops::rotate(img, *deg)))?;
        }
        MogrOp::AutoOrient => {
            let o = ctx.orientation;
            if o > 1 {
                // May run on a shrunk decode (needed_size looks past it): turn the logical size too.
                let (lw, lh) = ctx.logical;
                ctx.each(|img| Ok(ops::orient(img, o)))?;
                ctx.logical = if o >= 5 { (lh, lw) } else { (lw, lh) };
            }
            ctx.orientation = 1.min(o);
            ctx.exif = ctx
                .exif
                .take()
                .map(|e| Cow::Owned(exif::with_upright_orientation(&e)));
        }
        MogrOp::Flip(axis) => ctx.each(|img| Ok(ops::flip(img, *axis)))?,
        MogrOp::Blur { sigma, .. } => ctx.each(|img| Ok(ops::blur(img, *sigma)))?,
        MogrOp::Sharpen(v) => ctx.each(|img| Ok(ops::sharpen(img, *v)))?,
        MogrOp::Bright(v) => ctx.each(|img| Ok(ops::bright(img, *v)))?,
        MogrOp::Contrast(v) => ctx.each(|img| Ok(ops::contrast(img, *v)))?,
        MogrOp::Grayscale => ctx.each(|img| Ok(ops::grayscale(img)))?,
        MogrOp::Output(_) => {}
    }
    Ok(())
}

/// The smallest decoded size `rule` can start from without losing detail: the target of its
/// first resize (thumbnail or imageView2), or the full size when another step comes first.
pub fn needed_size(rule: &Rule, source: &crate::decode::Source) -> (u32, u32) {
    let full = (source.width, source.height);
    // auto-orient before the resize turns the image: the target is in turned coordinates.
    let mut turned = false;
    let first = rule.processors.first();
    let target = match first {
        Some(Processor::ImageView2(v)) => {
            let p = geometry::view2(v, full.0, full.1);
            Some((p.width, p.height))
        }
        Some(Processor::ImageMogr2(ops)) => {
            let mut found = None;
            for op in ops {
                match op {
                    MogrOp::Output(_) => continue,
                    MogrOp::AutoOrient => turned = source.orientation >= 5,
                    MogrOp::Thumbnail { spec, .. } => {
                        let (w, h) = if turned { (full.1, full.0) } else { full };
                        found = Some(geometry::thumbnail(spec, w, h));
                        break;
                    }
                    _ => break,
                }
            }
            found
        }
        Some(Processor::Watermark(_)) | None => None,
    };
    match target {
        Some((w, h)) if turned => (h.min(full.0), w.min(full.1)),
        Some((w, h)) => (w.min(full.0), h.min(full.1)),
        None => full,
    }
}

fn view2_step(ctx: &mut Ctx<'_>, v: &View2) -> Result<()> {
    let (w, h) = ctx.size();
    let plan = geometry::view2(v, w, h);
    ctx.resize_to(plan.width, plan.height, "imageView2")?;
    if let Some((cw, ch)) = plan.crop {
        let x = (plan.width - cw) / 2;
        let y = (plan.height - ch) / 2;
        ctx.each(|img| Ok(ops::crop(img, x, y, cw, ch)))?;
    }
    Ok(())
}
