//! The executor: walks a parsed [`Rule`] over a decoded image, one step at a time, checking
//! the output limits before each geometry step allocates, and the deadline between frames
//! and inside every long loop.
//!
//! The same walk, run dry over frame counts and sizes, gives the memory a rule holds at its
//! peak (`peak_bytes`): the estimate follows exactly the steps the executor takes.

use std::borrow::Cow;
use std::time::Instant;

use image::DynamicImage;
use serde::Serialize;

use crate::cgif::{self, Selection};
use crate::deadline::Deadline;
use crate::decode::{Decoded, Frame, Source};
use crate::encode::{self, Settings};
use crate::error::{ProcessError, Result};
use crate::exif;
use crate::format::Format;
use crate::geometry;
use crate::limits::Limits;
use crate::memory::{self, Meter};
use crate::ops;
use crate::rule::{MogrOp, OutputOp, Processor, QualitySpec, Rule, View2, Watermark};
use crate::step::Step;

/// Facts about one processed result (`ProcessResults/Object`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputFacts {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    pub size: u64,
    pub quality: u8,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub facts: OutputFacts,
    /// Set when `ignore-error/1` turned a failure into "return the input unchanged".
    pub ignored_error: Option<String>,
}

/// What the rule says about encoding. Output parameters don't move pixels, so they are
/// gathered in one pass up front (a later one overrides an earlier one).
#[derive(Debug, Clone, Default)]
pub struct OutputSpec {
    pub format: Option<Format>,
    pub quality: Option<QualitySpec>,
    pub interlace: bool,
    pub strip: bool,
    pub size_limit: Option<u64>,
    /// `size-limit/…!`: answer the input's own bytes unless the result is smaller.
    pub size_limit_or_original: bool,
    pub ignore_error: bool,
    /// `cgif/<n>`: a GIF's frames reduced to n (see [`crate::cgif`]).
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
                OutputOp::SizeLimit { bytes, or_original } => {
                    spec.size_limit = Some(*bytes);
                    spec.size_limit_or_original = *or_original;
                }
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
    /// Set for the dry run: no frames, only their count and size, and the bytes they need.
    meter: Option<&'a mut Meter>,
    /// The size the rule sees. Equal to the frames' size, except before the first resize of
    /// a shrink-on-load decode, where the frames are smaller than the source they stand for.
    logical: (u32, u32),
    orientation: u16,
    exif: Option<Cow<'a, [u8]>>,
    limits: &'a Limits,
    deadline: Deadline,
}

impl<'a> Ctx<'a> {
    fn new(
        frames: Cow<'a, [Frame]>,
        meter: Option<&'a mut Meter>,
        source: &'a Source,
        limits: &'a Limits,
        deadline: Deadline,
    ) -> Ctx<'a> {
        // The dry run has no metadata to rewrite.
        let exif = if meter.is_some() {
            None
        } else {
            source.exif.as_deref().map(Cow::Borrowed)
        };
        Ctx {
            frames,
            meter,
            logical: (source.width, source.height),
            orientation: source.orientation,
            exif,
            limits,
            deadline,
        }
    }

    fn tick(&self) -> Result<()> {
        self.deadline.check()
    }

    fn size(&self) -> (u32, u32) {
        self.logical
    }

    fn actual(&self) -> (u32, u32) {
        match &self.meter {
            Some(meter) => meter.size(),
            None => self
                .frames
                .first()
                .map(|f| (f.image.width(), f.image.height()))
                .unwrap_or((0, 0)),
        }
    }

    fn frame_count(&self) -> usize {
        self.meter
            .as_ref()
            .map_or(self.frames.len(), |meter| meter.frames())
    }

    /// Turn every frame into one of `to`: `step` makes it from a real frame; the dry run
    /// records `bytes`, what that allocates for one frame, instead.
    fn each(
        &mut self,
        to: (u32, u32),
        bytes: u64,
        step: impl Fn(&DynamicImage) -> Result<DynamicImage>,
    ) -> Result<()> {
        self.tick()?;
        match &mut self.meter {
            Some(meter) => meter.step(to, bytes),
            None => each_frame(&mut self.frames, self.deadline, step)?,
        }
        debug_assert_eq!(self.actual(), to, "the walk expected another size");
        self.logical = self.actual();
        Ok(())
    }

    fn apply(&mut self, step: Step) -> Result<()> {
        let from = self.actual();
        let to = step.size(from);
        let deadline = self.deadline;
        self.each(to, step.bytes(from, to), |img| step.run(img, deadline))
    }

    /// Steps other than resizes work in source pixels: bring a shrunk decode back to the
    /// logical size first. [`geometry::needed_size`] makes this unreachable in practice; it
    /// keeps the geometry right if the two ever disagree.
    fn full_size(&mut self) -> Result<()> {
        let (w, h) = self.logical;
        if self.actual() != (w, h) {
            self.apply(Step::Resize(w, h))?;
        }
        Ok(())
    }

    /// A geometry step to `w`×`h`: refuse an oversized result before allocating it (the
    /// dry run may go on past it, see [`Meter::refuse`]).
    fn check(&mut self, w: u32, h: u32, what: &str) -> Result<()> {
        let checked = self
            .limits
            .check_output_frames(w, h, self.frame_count(), what);
        match (checked, &mut self.meter) {
            (Err(e), Some(meter)) => meter.refuse(e),
            (checked, _) => checked,
        }
    }

    fn resize_to(&mut self, w: u32, h: u32, what: &str) -> Result<()> {
        self.check(w, h, what)?;
        self.apply(Step::Resize(w, h))
    }

    /// Render the mark once, then draw it on every frame.
    fn watermark(&mut self, w: &Watermark) -> Result<()> {
        self.full_size()?;
        self.tick()?;
        let size = self.size();
        let (limits, deadline) = (self.limits, self.deadline);
        if let Some(meter) = &mut self.meter {
            let mark = crate::watermark::plan(w, size, limits)?;
            meter.spike(mark.peak);
            meter.keep(mark.held);
            meter.step(size, memory::watermark_apply_bytes(size));
            meter.release(mark.held);
            return Ok(());
        }
        let mark = crate::watermark::render(w, size.0, size.1, limits, deadline)?;
        self.each(size, 0, |img| {
            crate::watermark::apply(img, &mark, w, deadline)
        })
    }

    /// After the last step: the deadline, and the result's size within the limits.
    fn finish(&mut self) -> Result<(u32, u32)> {
        self.tick()?;
        let (w, h) = self.size();
        self.check(w, h, "result")?;
        Ok((w, h))
    }
}

/// Replace every frame by `step` of it, polling the deadline between frames.
fn each_frame(
    frames: &mut Cow<'_, [Frame]>,
    deadline: Deadline,
    step: impl Fn(&DynamicImage) -> Result<DynamicImage>,
) -> Result<()> {
    match frames {
        // In place, so that an animation holds one old frame at a time beside the new ones.
        Cow::Owned(frames) => {
            for f in frames {
                deadline.check()?;
                f.image = step(&f.image)?;
            }
        }
        Cow::Borrowed(borrowed) => {
            let stepped = borrowed
                .iter()
                .map(|f| {
                    deadline.check()?;
                    Ok(Frame {
                        image: step(&f.image)?,
                        delay_ms: f.delay_ms,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            *frames = Cow::Owned(stepped);
        }
    }
    Ok(())
}

/// GIF and WebP outputs keep the animation (a GIF's reduced by `cgif/<n>`); other formats
/// take the first frame.
fn frames_kept(spec: &OutputSpec, source: Format, format: Format, frames: usize) -> Selection {
    cgif::selection(spec.frame_limit, source, format, frames)
}

/// WebP is written lossless for `quality/100!`.
fn lossless(spec: &OutputSpec, format: Format) -> bool {
    format == Format::Webp && spec.quality == Some(QualitySpec::Forced(100))
}

/// Run `rule` on `decoded`, encode, and report the result's facts. Past `deadline` the
/// work stops within a row, a band or a frame, with [`ProcessError::Deadline`].
pub fn run(
    decoded: &Decoded,
    rule: &Rule,
    original: &[u8],
    limits: &Limits,
    deadline: Option<Instant>,
) -> Result<Output> {
    let spec = OutputSpec::of(rule);
    match run_inner(decoded, rule, &spec, limits, Deadline::from(deadline)) {
        Err(e) if spec.ignore_error && e != ProcessError::Deadline => {
            Ok(the_original(decoded, original, Some(e.to_string())))
        }
        // COS: with `size-limit/…!` "the processed image is compared with the original; if it
        // is smaller it is returned, otherwise the original is".
        Ok(out) if spec.size_limit_or_original && out.bytes.len() >= original.len() => {
            drop(out);
            Ok(the_original(decoded, original, None))
        }
        other => other,
    }
}

/// The input, byte for byte, as the answer.
fn the_original(decoded: &Decoded, original: &[u8], ignored_error: Option<String>) -> Output {
    let s = &decoded.source;
    Output {
        bytes: original.to_vec(),
        facts: OutputFacts {
            format: s.format,
            width: s.width,
            height: s.height,
            size: original.len() as u64,
            quality: s.quality.unwrap_or(0),
        },
        ignored_error,
    }
}

/// The processors of `rule`, in order.
fn walk(ctx: &mut Ctx<'_>, rule: &Rule) -> Result<()> {
    for processor in &rule.processors {
        match processor {
            Processor::ImageMogr2(ops) => {
                for op in ops {
                    mogr_step(ctx, op)?;
                }
            }
            Processor::ImageView2(v) => view2_step(ctx, v)?,
            Processor::Watermark(w) => ctx.watermark(w)?,
        }
    }
    Ok(())
}

/// The dry run of a rule: the most it holds at once, and the first output size the limits
/// refuse (where the run itself will stop).
#[derive(Debug, Clone)]
pub(crate) struct Peak {
    pub bytes: u64,
    pub refusal: Option<ProcessError>,
}

/// The most `rule` holds at once when run on `frames` decoded frames of `size` standing for
/// `source` (the shared decode not included): the dry run of [`run`], through the same walk,
/// plus its encode, plus the copy of the `original` bytes that `ignore-error` answers with.
/// A rule that fails at a step fails there when run too: its peak is what it held until then.
pub(crate) fn peak_bytes(
    rule: &Rule,
    source: &Source,
    decoded: (usize, (u32, u32)),
    original: u64,
    limits: &Limits,
) -> Peak {
    let spec = OutputSpec::of(rule);
    let format = spec.format_for(source.format);
    let (frames, size) = decoded;
    let selection = frames_kept(&spec, source.format, format, frames);
    let mut meter = Meter::new(selection.count(frames), size);
    if matches!(selection, Selection::Sampled(_)) {
        meter.copied();
    }
    if spec.ignore_error {
        meter.stop_at_refusals();
    }
    let walked = {
        let mut ctx = Ctx::new(
            Cow::Borrowed(&[]),
            Some(&mut meter),
            source,
            limits,
            Deadline::NONE,
        );
        walk(&mut ctx, rule).and_then(|()| ctx.finish())
    };
    if let Ok(size) = walked {
        let encoding = memory::Encoding {
            format,
            lossless: lossless(&spec, format),
            interlace: spec.interlace,
            size_limit: spec.size_limit.is_some(),
            icc: match (&source.icc, spec.strip) {
                (Some(icc), false) => icc.len() as u64,
                _ => 0,
            },
        };
        let frames = meter.frames();
        meter.spike(memory::encode_bytes(encoding, frames, size));
    }
    // The copy of the input answered instead of a failure or of a larger `size-limit/…!`
    // result.
    let ignored = if spec.ignore_error || spec.size_limit_or_original {
        original
    } else {
        0
    };
    Peak {
        bytes: meter.peak().saturating_add(ignored),
        refusal: meter.refusal().cloned(),
    }
}

fn run_inner(
    decoded: &Decoded,
    rule: &Rule,
    spec: &OutputSpec,
    limits: &Limits,
    deadline: Deadline,
) -> Result<Output> {
    let source = &decoded.source;
    let format = spec.format_for(source.format);
    // Before any step: a HEIF or AVIF input kept as such would fail only at the encode.
    encode::check_writable(format)?;
    let selection = frames_kept(spec, source.format, format, decoded.frames.len());
    let frames = cgif::select(&decoded.frames, selection);
    let mut ctx = Ctx::new(frames, None, source, limits, deadline);
    walk(&mut ctx, rule)?;
    let (w, h) = ctx.finish()?;

    let quality = encode::resolve_quality(
        spec.quality,
        source.quality,
        source.format == Format::Jpeg && source.quality.is_some(),
    );
    let settings = Settings {
        quality,
        lossless: lossless(spec, format),
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
        Some(limit) => encode::encode_within(&ctx.frames, format, &settings, limit, deadline)?,
        None => (
            encode::encode(&ctx.frames, format, &settings, deadline)?,
            quality,
        ),
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
                ctx.apply(Step::Pad(*bw, *bh, *color))?;
            }
        }
        MogrOp::Crop { spec, gravity } => {
            let (x, y, cw, ch) = geometry::crop_rect(spec, *gravity, w, h);
            ctx.apply(Step::Crop { x, y, w: cw, h: ch })?;
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
            ctx.apply(Step::Crop {
                x: *dx,
                y: *dy,
                w: cw,
                h: ch,
            })?;
        }
        MogrOp::IRadius(r) => ctx.apply(Step::Circle(*r))?,
        MogrOp::RRadius(r) => ctx.apply(Step::Rounded(*r))?,
        MogrOp::Rotate(deg) => {
            let (rw, rh) = ops::rotate_size(w, h, *deg);
            ctx.check(rw, rh, "rotate")?;
            ctx.apply(Step::Rotate(*deg))?;
        }
        MogrOp::AutoOrient => {
            let o = ctx.orientation;
            if o > 1 {
                // May run on a shrunk decode (needed_size looks past it): turn the logical size too.
                let (lw, lh) = ctx.logical;
                ctx.apply(Step::Orient(o))?;
                ctx.logical = if o >= 5 { (lh, lw) } else { (lw, lh) };
            }
            ctx.orientation = 1.min(o);
            ctx.exif = ctx
                .exif
                .take()
                .map(|e| Cow::Owned(exif::with_upright_orientation(&e)));
        }
        MogrOp::Flip(axis) => ctx.apply(Step::Flip(*axis))?,
        MogrOp::Blur { radius, sigma } => ctx.apply(Step::Blur(*radius, *sigma))?,
        MogrOp::Sharpen(v) => ctx.apply(Step::Sharpen(*v))?,
        MogrOp::Bright(v) => ctx.apply(Step::Bright(*v))?,
        MogrOp::Contrast(v) => ctx.apply(Step::Contrast(*v))?,
        MogrOp::Grayscale => ctx.apply(Step::Grayscale)?,
        MogrOp::Output(_) => {}
    }
    Ok(())
}

/// imageView2's resize and centred crop; without a mode it resizes nothing (its output
/// parameters were gathered by [`OutputSpec::of`]).
fn view2_step(ctx: &mut Ctx<'_>, v: &View2) -> Result<()> {
    let Some(resize) = &v.resize else {
        return Ok(());
    };
    let (w, h) = ctx.size();
    let plan = geometry::view2(resize, w, h);
    ctx.resize_to(plan.width, plan.height, "imageView2")?;
    if let Some((cw, ch)) = plan.crop {
        let x = (plan.width - cw) / 2;
        let y = (plan.height - ch) / 2;
        ctx.apply(Step::Crop { x, y, w: cw, h: ch })?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
