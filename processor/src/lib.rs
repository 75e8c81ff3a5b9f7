//! picops' image processor: bytes and a COS rule in, bytes and facts out.
//! Pure and synchronous: no I/O, no async, no global state.
//!
//! ```text
//! probe (header, limits) → decode (once) → pipeline (rule AST, step by step) → encode
//! ```

pub mod decode;
pub mod encode;
pub mod error;
pub mod exif;
pub mod format;
pub mod geometry;
mod jpeg_scaled;
pub mod limits;
pub mod ops;
pub mod pipeline;
pub mod quality;
pub mod rule;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod watermark;
mod webp_still;

use serde::Serialize;

pub use decode::{decode, decode_at_least, probe, Decoded, Frames, Source};
pub use error::{ProcessError, Result};
pub use format::Format;
pub use limits::Limits;
/// Apply one parsed rule to an already decoded image (`original` is returned unchanged when
/// the rule says `ignore-error/1` and fails).
pub use pipeline::run as apply;
pub use pipeline::OutputSpec;
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
        .map(|r| pipeline::needed_size(r, source))
        .fold((1, 1), |(w, h), (rw, rh)| (w.max(rw), h.max(rh)))
}

/// How `data` will be decoded for a set of rules, decided from its header alone: the header
/// facts, the frames needed, and the smallest size that keeps every rule's detail.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    frames: Frames,
    min_size: (u32, u32),
    rules: usize,
    /// A progressive JPEG's components: its decoders keep every DCT coefficient of the full
    /// image (2 bytes each) until the last scan, whatever the output size.
    progressive_components: Option<u8>,
    /// A JPEG, or a still WebP: decoded smaller when the rules allow.
    shrinks_on_load: bool,
}

impl Plan {
    /// Bytes of pixels the decode and the rules running in parallel will hold: the decoded
    /// frames (after shrink-on-load) plus one working copy per rule. Lets a server admit or
    /// refuse the work before doing it.
    pub fn memory_bytes(&self) -> u64 {
        let (w, h) = (self.source.width, self.source.height);
        let d = if self.shrinks_on_load {
            decode::shrink_denominator(w, h, self.min_size.0, self.min_size.1)
        } else {
            1
        };
        let frames = match self.frames {
            Frames::All => u64::from(self.source.frames),
            Frames::First => 1,
        };
        let decoded = u64::from((w / d).max(1)) * u64::from((h / d).max(1)) * 4 * frames;
        let coefficients = self
            .progressive_components
            .map_or(0, |c| u64::from(w) * u64::from(h) * 2 * u64::from(c));
        // libwebp decodes a lossless picture whole (4 bytes a pixel) before any rescaling.
        let lossless_webp = self.source.format == Format::Webp && self.source.quality == Some(100);
        let argb = if lossless_webp {
            u64::from(w) * u64::from(h) * 4
        } else {
            0
        };
        decoded * (1 + self.rules.max(1) as u64) + coefficients + argb
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
    let progressive_components = match source.format {
        Format::Jpeg => format::find_jpeg_soi(data)
            .and_then(|soi| jpeg_scaled::progressive_components(&data[soi..])),
        _ => None,
    };
    let shrinks_on_load = match source.format {
        Format::Jpeg => true,
        Format::Webp => webp_still::is_still(data),
        _ => false,
    };
    Ok(Plan {
        frames: frames_needed(source.format, rules),
        source,
        min_size,
        rules: rules.len(),
        progressive_components,
        shrinks_on_load,
    })
}

/// Decode `data` as `plan` says (the header was checked when planning).
pub fn decode_planned(data: &[u8], plan: Plan, limits: &Limits) -> Result<Decoded> {
    decode::decode_probed(data, plan.source, limits, plan.frames, Some(plan.min_size))
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
    use crate::test_support::edge;

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

    #[test]
    fn a_lossless_webp_budgets_for_libwebp_decoding_it_whole() {
        let data = webp_still::tests::lossless("hopper.png");
        let small = planned(&data, "imageMogr2/thumbnail/16x");
        assert_eq!(small.source.quality, Some(100), "a lossless WebP");
        let (w, h) = (
            u64::from(small.source.width),
            u64::from(small.source.height),
        );
        assert!(small.memory_bytes() >= w * h * 4);
    }
}
