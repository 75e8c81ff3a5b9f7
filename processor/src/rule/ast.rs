//! The typed form of a processing rule. The parser produces it; the pipeline walks it.

use crate::format::Format;

/// A whole rule: processors joined by `|`, applied left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub processors: Vec<Processor>,
}

impl Rule {
    /// The processors' names joined by `|` (`imageMogr2`, `imageView2|imageMogr2`), for
    /// metrics and logs.
    pub fn processor_names(&self) -> String {
        self.processors
            .iter()
            .map(|p| match p {
                Processor::ImageMogr2(_) => "imageMogr2",
                Processor::ImageView2(_) => "imageView2",
            })
            .collect::<Vec<_>>()
            .join("|")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Processor {
    /// `imageMogr2/...`: parameters applied in the order written.
    ImageMogr2(Vec<MogrOp>),
    /// `imageView2/<mode>/w/<W>/h/<H>/...`.
    ImageView2(View2),
}

#[derive(Debug, Clone, PartialEq)]
pub enum MogrOp {
    Thumbnail {
        spec: Thumbnail,
        pad: Option<Rgb>,
    },
    Crop {
        spec: Crop,
        gravity: Gravity,
    },
    Cut {
        width: u32,
        height: u32,
        dx: u32,
        dy: u32,
    },
    IRadius(u32),
    RRadius(u32),
    Rotate(f64),
    AutoOrient,
    Flip(FlipAxis),
    Blur {
        radius: u32,
        sigma: f32,
    },
    Sharpen(u32),
    Bright(i32),
    Contrast(i32),
    Grayscale,
    Output(OutputOp),
}

/// Parameters that change how the result is encoded, not its pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputOp {
    /// `None` is `format/src`: keep the input's format.
    Format(Option<Format>),
    Quality(QualitySpec),
    Interlace(bool),
    Strip,
    SizeLimit(u64),
    IgnoreError,
    /// `cgif/<n>`: keep the first n frames of an animation.
    FrameLimit(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QualitySpec {
    /// `quality/q`: min(q, input quality).
    AtMost(u8),
    /// `quality/q!`: exactly q.
    Forced(u8),
    /// `rquality/q`: q % of the input quality.
    Relative(u8),
    /// `lquality/q`: at least q.
    AtLeast(u8),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Thumbnail {
    /// `!<p>p` (both), `!<p>px` (width), `!x<p>p` (height): percentages of the input.
    Scale { width_pct: f64, height_pct: f64 },
    /// `<W>x<H>`, `<W>x`, `x<H>` with an optional `>` or `<`: fit inside, keep aspect.
    Fit {
        width: Option<u32>,
        height: Option<u32>,
        only: Only,
    },
    /// `!<W>x<H>r`: the smaller scale that covers both sides.
    Cover { width: u32, height: u32 },
    /// `<W>x<H>!`: exactly this size, aspect ignored.
    Exact { width: u32, height: u32 },
    /// `<A>@`: at most A pixels.
    Area(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Any,
    Shrink,
    Enlarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub dx: u32,
    pub dy: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gravity {
    #[default]
    NorthWest,
    North,
    NorthEast,
    West,
    Center,
    East,
    SouthWest,
    South,
    SouthEast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlipAxis {
    Vertical,
    Horizontal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

#[derive(Debug, Clone, PartialEq)]
pub struct View2 {
    pub mode: u8,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub output: Vec<OutputOp>,
}
