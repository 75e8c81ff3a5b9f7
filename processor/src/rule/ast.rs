//! The typed form of a processing rule. The parser produces it; the pipeline walks it.

use crate::format::Format;

/// A whole rule: processors joined by `|`, applied left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub processors: Vec<Processor>,
}

impl Rule {
    /// The URLs of the image watermarks still to be fetched.
    pub fn watermark_urls(&self) -> Vec<String> {
        self.processors
            .iter()
            .filter_map(|p| match p {
                Processor::Watermark(Watermark {
                    mark:
                        Mark::Image {
                            source: MarkImage::Url(u),
                            ..
                        },
                    ..
                }) => Some(u.clone()),
                _ => None,
            })
            .collect()
    }

    /// Give every image watermark naming `url` its bytes.
    pub fn resolve_watermark(&mut self, url: &str, bytes: std::sync::Arc<Vec<u8>>) {
        for p in &mut self.processors {
            if let Processor::Watermark(Watermark {
                mark: Mark::Image { source, .. },
                ..
            }) = p
            {
                if matches!(source, MarkImage::Url(u) if u == url) {
                    *source = MarkImage::Bytes(bytes.clone());
                }
            }
        }
    }

    /// The processors' names joined by `|` (`imageMogr2`, `imageView2|imageMogr2`), for
    /// metrics and logs.
    pub fn processor_names(&self) -> String {
        self.processors
            .iter()
            .map(|p| match p {
                Processor::ImageMogr2(_) => "imageMogr2",
                Processor::ImageView2(_) => "imageView2",
                Processor::Watermark(_) => "watermark",
            })
            .collect::<Vec<_>>()
            .join("|")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Processor {
    /// `imageMogr2/...`: parameters applied in the order written.
    ImageMogr2(Vec<MogrOp>),
    /// `imageView2/<mode>/w/<W>/h/<H>/...`, or output parameters only
    /// (`imageView2/format/png`).
    ImageView2(View2),
    /// `watermark/1/...` (image) or `watermark/2/...` (text).
    Watermark(Watermark),
}

/// A watermark drawn over every frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    pub mark: Mark,
    /// Default south-east.
    pub gravity: Gravity,
    /// Offsets from the anchored edges (default 10 px); the gaps between tiles with `batch`.
    pub dx: u32,
    pub dy: u32,
    /// Opacity in percent, 1..=100.
    pub dissolve: u8,
    /// Tile the mark over the whole image.
    pub batch: bool,
    /// Rotation of the tiled mark, degrees clockwise (with `batch`).
    pub degree: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    Image {
        source: MarkImage,
        /// 1: scale a mark larger than the image down to fit; 2: crop it.
        blogo: Option<u8>,
        /// Scale the mark to ‰ of the image's width, height or area.
        scale: Option<(ScaleBy, u32)>,
    },
    Text {
        text: String,
        /// Font size in px.
        size: u32,
        fill: Rgb,
        /// Shadow opacity in percent (0: none).
        shadow: u8,
    },
}

/// Where an image watermark's bytes come from: the rule names a URL; the caller (who may
/// read buckets, the processor may not) replaces it with the fetched bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum MarkImage {
    Url(String),
    Bytes(std::sync::Arc<Vec<u8>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleBy {
    Width,
    Height,
    Area,
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
    /// `size-limit/<n>[k|m][!]`: at most `bytes`; with `!` (`or_original`), the input
    /// itself is the answer unless the processed image is smaller than it.
    SizeLimit {
        bytes: u64,
        or_original: bool,
    },
    IgnoreError,
    /// `cgif/<n>` (1–100): reduce a GIF's frames to n, or cut them after 30 for n = 1.
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

/// `imageView2[/<mode>/w/<W>/h/<H>]` with its output parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct View2 {
    /// The mode and its box; `None` (`imageView2/format/png`) resizes nothing.
    pub resize: Option<View2Resize>,
    pub output: Vec<OutputOp>,
}

/// `/<mode>/w/<W>/h/<H>`: a mode 0-5 with at least one of the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View2Resize {
    pub mode: u8,
    pub width: Option<u32>,
    pub height: Option<u32>,
}
