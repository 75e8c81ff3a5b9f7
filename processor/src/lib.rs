//! picops' image processor: bytes and a COS rule in, bytes and facts out.
//! Pure and synchronous: no I/O, no async, no global state.
//!
//! ```text
//! probe (header, limits) → decode (once) → pipeline (rule AST, step by step) → encode
//! ```

mod blur;
mod cgif;
pub mod deadline;
pub mod decode;
pub mod encode;
pub mod error;
pub mod exif;
pub mod format;
pub mod geometry;
mod heif;
mod interlace;
mod jpeg_scaled;
pub mod limits;
mod memory;
pub mod ops;
pub mod pipeline;
pub mod quality;
mod resize;
pub mod rule;
mod source;
mod step;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod watermark;
mod webp_encode;
mod webp_mux;
pub mod webp_quality;
mod webp_still;

use std::time::Instant;

use serde::Serialize;

pub use deadline::Deadline;
pub use decode::{decode, decode_at_least, probe, Decoded, Frames, Source};
pub use error::{ProcessError, Result};
pub use format::Format;
pub use limits::Limits;
/// Apply one parsed rule to an already decoded image (`original` is returned unchanged when
/// the rule says `ignore-error/1` and fails).
pub use pipeline::run as apply;
pub use pipeline::{Output, OutputFacts, OutputSpec};
pub use rule::{parse_rule, Rule};

/// What COS reports about an input image (`ImageInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInfo {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// JPEG: estimated like ImageMagick; lossless: 100; unknown (lossy WebP): 0.
    pub quality: u8,
    /// Average colour, `0xRRGGBB`.
    pub ave: String,
    pub orientation: u16,
    pub frames: u32,
}

impl Decoded {
    pub fn info(&self) -> ImageInfo {
        let (r, g, b) = self
            .frames
            .first()
            .map(|f| ops::average(&f.image))
            .unwrap_or_default();
        ImageInfo {
            format: self.source.format,
            width: self.source.width,
            height: self.source.height,
            quality: self.source.quality.unwrap_or(0),
            ave: format!("0x{r:02x}{g:02x}{b:02x}"),
            orientation: self.source.orientation,
            frames: self.source.frames,
        }
    }
}

/// Which frames `rules` need from an input of `format`: all when the input may be animated
/// (GIF, WebP) and a rule writes an animated format.
pub fn frames_needed(format: Format, rules: &[Rule]) -> Frames {
    let animated_out = rules
        .iter()
        .any(|r| OutputSpec::of(r).format_for(format).is_animatable());
    if format.is_animatable() && animated_out {
        Frames::All
    } else {
        Frames::First
    }
}

/// The smallest size `data` must be decoded at so that every rule in `rules` keeps full
/// detail: the largest of their first resize targets (shrink-on-load uses it).
pub fn needed_size(rules: &[Rule], source: &Source) -> (u32, u32) {
    rules
        .iter()
        .map(|r| geometry::needed_size(r, source))
        .fold((1, 1), |(w, h), (rw, rh)| (w.max(rw), h.max(rh)))
}

/// How `data` will be decoded for a set of rules, decided from its header alone: the header
/// facts, the frames needed, the smallest size that keeps every rule's detail, and the
/// memory the decode and every rule will need.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    frames: Frames,
    min_size: (u32, u32),
    /// The decode: its frames, which every rule reads, and its peak with its buffers.
    decode: memory::DecodeBytes,
    /// What each rule holds at its peak beside the shared frames.
    rules: Vec<u64>,
    /// The first output size the limits refuse, in a rule that will fail on it.
    refusal: Option<ProcessError>,
}

impl Plan {
    /// An upper bound of the bytes the decode and the rules (running in parallel) allocate
    /// at the peak: the decode with its buffers, then the decoded frames with every rule's
    /// own peak (its frames and their scratch buffers at every step, its encoder, its
    /// output). Lets a server admit or refuse the work before doing it.
    pub fn memory_bytes(&self) -> u64 {
        let rules = self.rules.iter().fold(0u64, |a, &b| a.saturating_add(b));
        self.decode
            .peak
            .max(self.decode.frames.saturating_add(rules))
    }

    /// Refuse the work when it needs more than the whole of `budget` bytes, with `held`
    /// bytes (the body) held for it already: no wait would ever make room for it. When a
    /// rule asks for an output the limits refuse anyway, the message gives that reason too.
    pub fn check_budget(&self, held: u64, budget: u64) -> Result<()> {
        let need = held.saturating_add(self.memory_bytes());
        if need <= budget {
            return Ok(());
        }
        // A size the limits refuse anyway is the reason: say so too.
        let why = match &self.refusal {
            Some(ProcessError::InvalidArgument(m)) => format!("; {m}"),
            _ => String::new(),
        };
        Err(ProcessError::InvalidArgument(format!(
            "the output is too large for the memory budget: processing this {}x{} image \
             would need {} MiB ({need} bytes), more than the whole budget of {} MiB \
             ({budget} bytes){why}",
            self.source.width,
            self.source.height,
            need.div_ceil(1 << 20),
            budget >> 20,
        )))
    }
}

/// Read the header of `data` (refusing what exceeds `limits`) and plan its decode for `rules`.
pub fn plan(data: &[u8], rules: &[Rule], limits: &Limits) -> Result<Plan> {
    let source = probe(data, limits)?;
    let min_size = if rules.is_empty() {
        (source.width, source.height)
    } else {
        needed_size(rules, &source)
    };
    let frames = frames_needed(source.format, rules);
    Ok(plan_probed(data, source, frames, min_size, rules, limits))
}

/// The plan of an ImageInfo as a server reads it: the first frame, decoded as small as the
/// format allows down to 64×64 (the average colour does not need every pixel).
pub fn plan_info(data: &[u8], limits: &Limits) -> Result<Plan> {
    let source = probe(data, limits)?;
    Ok(plan_probed(
        data,
        source,
        Frames::First,
        (64, 64),
        &[],
        limits,
    ))
}

fn plan_probed(
    data: &[u8],
    source: Source,
    frames: Frames,
    min_size: (u32, u32),
    rules: &[Rule],
    limits: &Limits,
) -> Plan {
    let (w, h) = (source.width, source.height);
    let shrinks_on_load = match source.format {
        Format::Jpeg => true,
        Format::Webp => webp_still::is_still(data),
        _ => false,
    };
    let d = if shrinks_on_load {
        decode::shrink_denominator(w, h, min_size.0, min_size.1)
    } else {
        1
    };
    let count = match frames {
        Frames::All => source.frames.max(1) as usize,
        Frames::First => 1,
    };
    let decoded = (count, (w.div_ceil(d), h.div_ceil(d)));
    let original = data.len() as u64;
    let peaks: Vec<pipeline::Peak> = rules
        .iter()
        .map(|r| pipeline::peak_bytes(r, &source, decoded, original, limits))
        .collect();
    Plan {
        decode: memory::decode_bytes(data, &source, frames, d),
        rules: peaks.iter().map(|p| p.bytes).collect(),
        refusal: peaks.into_iter().find_map(|p| p.refusal),
        source,
        frames,
        min_size,
    }
}

/// Decode `data` as `plan` says (the header was checked when planning).
pub fn decode_planned(data: &[u8], plan: Plan, limits: &Limits) -> Result<Decoded> {
    decode_planned_within(data, plan, limits, None)
}

/// [`decode_planned`], stopping between the frames of an animation once `deadline` passes.
pub fn decode_planned_within(
    data: &[u8],
    plan: Plan,
    limits: &Limits,
    deadline: Option<Instant>,
) -> Result<Decoded> {
    decode::decode_probed_within(
        data,
        plan.source,
        limits,
        plan.frames,
        Some(plan.min_size),
        Deadline::from(deadline),
    )
}

/// Decode `data` once, at the smallest scale that serves every rule.
pub fn decode_for(data: &[u8], rules: &[Rule], limits: &Limits) -> Result<Decoded> {
    decode_planned(data, plan(data, rules, limits)?, limits)
}

/// Decode `data` and apply `rule`: the whole offline path of `picops process`.
pub fn process(data: &[u8], rule: &str, limits: &Limits) -> Result<Output> {
    let rule = parse_rule(rule)?;
    let decoded = decode_for(data, std::slice::from_ref(&rule), limits)?;
    apply(&decoded, &rule, data, limits, None)
}

/// ImageInfo of `data` (decodes the first frame for the average colour).
pub fn info(data: &[u8], limits: &Limits) -> Result<ImageInfo> {
    Ok(decode(data, limits, Frames::First)?.info())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{edge, lossless_webp};

    fn planned(data: &[u8], rule: &str) -> Plan {
        let rules = [parse_rule(rule).expect("rule")];
        plan(data, &rules, &Limits::default()).expect("plan")
    }

    #[test]
    fn a_still_webp_thumbnail_budgets_for_the_shrunk_decode() {
        let data = edge("lossy.webp");
        let full = planned(&data, "imageMogr2/rotate/90");
        let w = full.source.width;
        let small = planned(&data, &format!("imageMogr2/thumbnail/{}x", w / 8));
        assert!(small.memory_bytes() * 8 < full.memory_bytes());
    }

    /// An animated GIF of `frames` frames of `w`×`h`, each its own colour.
    fn gif(frames: u8, w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
            for i in 0..frames {
                let px = image::Rgba([i.wrapping_mul(80), 40, 200, 255]);
                let frame = image::Frame::new(image::RgbaImage::from_pixel(w, h, px));
                enc.encode_frame(frame).expect("frame encoded");
            }
        }
        out
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 99]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("png encoded");
        out
    }

    #[test]
    fn an_enlarged_animation_counts_every_output_frame() {
        let data = gif(3, 4, 4);
        let plan = planned(&data, "imageMogr2/thumbnail/9999x9999!/format/gif");
        assert_eq!(plan.source.frames, 3);
        let frames = 3 * 9999 * 9999 * 4;
        assert!(plan.memory_bytes() >= frames, "{}", plan.memory_bytes());
        // Far beyond a 768 MiB budget: refused from the plan, before anything is decoded.
        match plan.check_budget(data.len() as u64, 768 << 20) {
            Err(ProcessError::InvalidArgument(m)) => {
                assert!(m.contains("memory budget") && m.contains("768 MiB"), "{m}")
            }
            other => panic!("not refused: {other:?}"),
        }
        // The same animation made smaller fits.
        let small = planned(&data, "imageMogr2/thumbnail/200x200");
        assert!(small.check_budget(data.len() as u64, 768 << 20).is_ok());
        assert!(small.memory_bytes() >= 3 * 200 * 200 * 4);
    }

    #[test]
    fn every_step_kind_is_counted_at_least_at_its_output() {
        let data = png(64, 48);
        let text = "cGljb3Bz";
        let rules = [
            "imageMogr2/thumbnail/300x200/pad/1",
            "imageMogr2/crop/40x30/gravity/center",
            "imageMogr2/cut/20x20x5x5",
            "imageMogr2/iradius/20",
            "imageMogr2/rradius/10",
            "imageMogr2/rotate/33",
            "imageMogr2/rotate/90",
            "imageMogr2/flip/vertical",
            "imageMogr2/blur/3x2",
            "imageMogr2/sharpen/100",
            "imageMogr2/bright/10/contrast/-10/grayscale/1",
            "imageMogr2/thumbnail/500x/format/webp/quality/100!",
            "imageMogr2/thumbnail/500x/interlace/1/format/jpg",
            "imageMogr2/thumbnail/500x/format/bmp",
            "imageView2/1/w/30/h/20",
            &format!("watermark/2/text/{text}/fontsize/40/batch/1/degree/30"),
        ];
        for rule in rules {
            let plan = planned(&data, rule);
            let estimate = plan.memory_bytes();
            // Runs through the same walk; debug builds assert each step's size as planned.
            let out = process(&data, rule, &Limits::default()).expect(rule);
            let (w, h) = (u64::from(out.facts.width), u64::from(out.facts.height));
            assert!(
                estimate >= w * h * 4 + out.bytes.len() as u64,
                "{rule}: {estimate}"
            );
        }
    }

    #[test]
    fn auto_orient_is_planned_turned() {
        let data = edge("hopper_orientation_6.jpg");
        let rule = "imageMogr2/auto-orient/thumbnail/x300";
        let out = process(&data, rule, &Limits::default()).expect("processed");
        let plan = planned(&data, rule);
        let (w, h) = (u64::from(out.facts.width), u64::from(out.facts.height));
        assert!(plan.memory_bytes() >= w * h * 4);
    }

    #[test]
    fn a_deadline_stops_a_big_blur_promptly() {
        let data = png(1, 1);
        let limits = Limits::default();
        for text in [
            "imageMogr2/thumbnail/4000x4000!/blur/50x50",
            "imageMogr2/thumbnail/4000x4000!/blur/50x50/ignore-error/1",
        ] {
            let rule = parse_rule(text).expect("rule");
            let decoded = decode_for(&data, std::slice::from_ref(&rule), &limits).expect("decoded");
            let started = Instant::now();
            let deadline = started + std::time::Duration::from_millis(200);
            let result = apply(&decoded, &rule, &data, &limits, Some(deadline));
            // Unstopped, this blur takes minutes; stopped, a row or a band past the deadline.
            assert_eq!(result.err(), Some(ProcessError::Deadline), "{text}");
            let took = started.elapsed();
            assert!(took < std::time::Duration::from_secs(5), "{text}: {took:?}");
        }
    }

    #[test]
    fn a_deadline_stops_between_the_frames_of_a_decode() {
        let data = gif(5, 8, 8);
        let plan = planned(&data, "imageMogr2/format/gif");
        let past = Some(Instant::now());
        let decoded = decode_planned_within(&data, plan, &Limits::default(), past);
        assert_eq!(decoded.err(), Some(ProcessError::Deadline));
    }

    #[test]
    fn a_lossless_webp_budgets_for_libwebp_decoding_it_whole() {
        let data = lossless_webp("hopper.png");
        let small = planned(&data, "imageMogr2/thumbnail/16x");
        assert_eq!(small.source.quality, Some(100), "a lossless WebP");
        let (w, h) = (
            u64::from(small.source.width),
            u64::from(small.source.height),
        );
        assert!(small.memory_bytes() >= w * h * 4);
    }
}
