//! The one parser for the rule grammar (docs/protocol.md, Processing rules): text in, typed
//! [`Rule`] out. Every error names the offending token and its byte offset in the rule text.

use super::ast::*;
use super::values::*;
use crate::error::{ProcessError, Result};

/// At most this many processors in one rule; more is surely a mistake or an attack.
const MAX_PROCESSORS: usize = 16;

pub fn parse_rule(text: &str) -> Result<Rule> {
    if text.trim().is_empty() {
        return Err(ProcessError::rule(text, 0, "empty rule"));
    }
    let mut processors = Vec::new();
    let mut offset = 0;
    let mut image_marks = 0;
    for part in text.split('|') {
        if processors.len() == MAX_PROCESSORS {
            return Err(ProcessError::rule(part, offset, "too many processors"));
        }
        let mut tokens = Tokens::new(part, offset);
        let p = parse_processor(&mut tokens)?;
        if matches!(
            p,
            Processor::Watermark(Watermark {
                mark: Mark::Image { .. },
                ..
            })
        ) {
            image_marks += 1;
            if image_marks > MAX_IMAGE_WATERMARKS {
                return Err(ProcessError::rule(
                    part,
                    offset,
                    "at most 10 image watermarks",
                ));
            }
        }
        processors.push(p);
        offset += part.len() + 1;
    }
    Ok(Rule { processors })
}

/// `/`-separated segments of one processor, each with its offset in the whole rule.
struct Tokens<'a> {
    segments: Vec<(usize, &'a str)>,
    pos: usize,
    end: usize,
}

impl<'a> Tokens<'a> {
    fn new(part: &'a str, base: usize) -> Self {
        let mut segments = Vec::new();
        let mut at = base;
        for seg in part.split('/') {
            segments.push((at, seg));
            at += seg.len() + 1;
        }
        // A trailing slash (`imageMogr2/strip/`) leaves an empty last segment; tolerate it.
        if segments.len() > 1 && segments.last().is_some_and(|(_, s)| s.is_empty()) {
            segments.pop();
        }
        Tokens {
            segments,
            pos: 0,
            end: base + part.len(),
        }
    }

    fn peek(&self) -> Option<(usize, &'a str)> {
        self.segments.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let t = self.segments.get(self.pos).copied();
        self.pos += 1;
        t
    }

    /// The value after parameter `name` (at `offset`), or an error naming the parameter.
    fn value(&mut self, name: &str, offset: usize) -> Result<(usize, &'a str)> {
        match self.next() {
            Some((o, v)) if !v.is_empty() => Ok((o, v)),
            Some((o, _)) => Err(ProcessError::rule(name, o, "missing value")),
            None => Err(ProcessError::rule(name, offset, "missing value")),
        }
    }
}

fn parse_processor(t: &mut Tokens<'_>) -> Result<Processor> {
    let (offset, name) = t
        .next()
        .ok_or_else(|| ProcessError::rule("", t.end, "empty processor"))?;
    match name {
        "imageMogr2" => parse_mogr(t).map(Processor::ImageMogr2),
        "imageView2" => parse_view2(t, offset).map(Processor::ImageView2),
        "watermark" => parse_watermark(t, offset).map(Processor::Watermark),
        "" => Err(ProcessError::rule(name, offset, "empty processor")),
        _ => Err(ProcessError::rule(name, offset, "unknown processor")),
    }
}

fn parse_mogr(t: &mut Tokens<'_>) -> Result<Vec<MogrOp>> {
    let mut ops = Vec::new();
    // `pad/1/color/..` and `gravity/..` modify a neighbouring thumbnail or crop; they may
    // come before or after it, so they are collected and attached once the list is read.
    let mut pad: Option<(usize, bool)> = None;
    let mut pad_color: Option<Rgb> = None;
    let mut gravity: Option<Gravity> = None;
    while let Some((offset, name)) = t.next() {
        let op = match name {
            "thumbnail" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Thumbnail {
                    spec: parse_thumbnail(v, o)?,
                    pad: None,
                }
            }
            "pad" => {
                let (o, v) = t.value(name, offset)?;
                pad = Some((offset, parse_flag(v, o)?));
                continue;
            }
            "color" => {
                let (o, v) = t.value(name, offset)?;
                pad_color = Some(parse_color(v, o)?);
                continue;
            }
            "gravity" => {
                let (o, v) = t.value(name, offset)?;
                gravity = Some(parse_gravity(v, o)?);
                continue;
            }
            "crop" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Crop {
                    spec: parse_crop(v, o)?,
                    gravity: Gravity::NorthWest,
                }
            }
            "cut" => {
                let (o, v) = t.value(name, offset)?;
                let n = split_numbers(v, 'x', o, 4)?;
                if n[0] == 0 || n[1] == 0 {
                    return Err(ProcessError::rule(v, o, "cut size must be positive"));
                }
                MogrOp::Cut {
                    width: n[0],
                    height: n[1],
                    dx: n[2],
                    dy: n[3],
                }
            }
            "iradius" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::IRadius(positive(v, o)?)
            }
            "rradius" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::RRadius(positive(v, o)?)
            }
            "rotate" => {
                let (o, v) = t.value(name, offset)?;
                let deg: f64 = v
                    .parse()
                    .map_err(|_| ProcessError::rule(v, o, "expected degrees 0-360"))?;
                if !(0.0..=360.0).contains(&deg) {
                    return Err(ProcessError::rule(v, o, "expected degrees 0-360"));
                }
                MogrOp::Rotate(deg)
            }
            "auto-orient" => MogrOp::AutoOrient,
            "flip" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Flip(match v {
                    "vertical" => FlipAxis::Vertical,
                    "horizontal" => FlipAxis::Horizontal,
                    _ => return Err(ProcessError::rule(v, o, "expected vertical or horizontal")),
                })
            }
            "format" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Output(OutputOp::Format(parse_format(v, o)?))
            }
            "quality" | "rquality" | "lquality" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Output(OutputOp::Quality(parse_quality(name, v, o)?))
            }
            "interlace" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Output(OutputOp::Interlace(parse_flag(v, o)?))
            }
            "cgif" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Output(OutputOp::FrameLimit(number(v, o, 1, 100)?))
            }
            "blur" => {
                let (o, v) = t.value(name, offset)?;
                let (r, s) = v
                    .split_once('x')
                    .ok_or_else(|| ProcessError::rule(v, o, "expected <radius>x<sigma>"))?;
                let radius = number(r, o, 1, 50)?;
                let sigma = number(s, o, 0, 50)?;
                MogrOp::Blur {
                    radius,
                    sigma: sigma.max(1) as f32,
                }
            }
            "sharpen" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Sharpen(number(v, o, 10, 300)?)
            }
            "bright" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Bright(signed(v, o, -100, 100)?)
            }
            "contrast" => {
                let (o, v) = t.value(name, offset)?;
                MogrOp::Contrast(signed(v, o, -100, 100)?)
            }
            "grayscale" => {
                let (o, v) = t.value(name, offset)?;
                if !parse_flag(v, o)? {
                    continue;
                }
                MogrOp::Grayscale
            }
            "strip" => MogrOp::Output(OutputOp::Strip),
            "size-limit" => {
                let (o, v) = t.value(name, offset)?;
                let (bytes, or_original) = parse_size(v, o)?;
                MogrOp::Output(OutputOp::SizeLimit { bytes, or_original })
            }
            "ignore-error" => {
                let (o, v) = t.value(name, offset)?;
                if !parse_flag(v, o)? {
                    continue;
                }
                MogrOp::Output(OutputOp::IgnoreError)
            }
            "" => return Err(ProcessError::rule(name, offset, "empty parameter")),
            _ => return Err(ProcessError::rule(name, offset, "unknown parameter")),
        };
        ops.push(op);
    }
    attach_modifiers(&mut ops, pad, pad_color, gravity)?;
    Ok(ops)
}

fn attach_modifiers(
    ops: &mut [MogrOp],
    pad: Option<(usize, bool)>,
    pad_color: Option<Rgb>,
    gravity: Option<Gravity>,
) -> Result<()> {
    if let Some((offset, true)) = pad {
        let thumb = ops.iter_mut().find_map(|op| match op {
            MogrOp::Thumbnail {
                spec:
                    Thumbnail::Fit {
                        width: Some(_),
                        height: Some(_),
                        ..
                    },
                pad,
            } => Some(pad),
            _ => None,
        });
        match thumb {
            Some(p) => *p = Some(pad_color.unwrap_or(Rgb(255, 255, 255))),
            None => {
                return Err(ProcessError::rule(
                    "pad",
                    offset,
                    "pad needs thumbnail/<W>x<H> in the same processor",
                ))
            }
        }
    }
    if let Some(g) = gravity {
        for op in ops.iter_mut() {
            if let MogrOp::Crop { gravity, .. } = op {
                *gravity = g;
            }
        }
    }
    Ok(())
}

/// `imageView2[/<mode>[/w/<W>][/h/<H>]]` followed by output parameters. The mode and its
/// size are optional, as in COS (whose own example is `imageView2/format/png`): without a
/// mode nothing is resized. A mode needs at least one of `w` and `h`; `w` and `h` need a mode.
fn parse_view2(t: &mut Tokens<'_>, offset: usize) -> Result<View2> {
    // A mode is a number, and only ever the first parameter.
    let mode = match t.peek() {
        Some((mo, m)) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
            t.next();
            match m.parse::<u8>() {
                Ok(n @ 0..=5) => Some((mo, m, n)),
                _ => return Err(ProcessError::rule(m, mo, "mode must be 0-5")),
            }
        }
        Some(_) => None,
        None => {
            return Err(ProcessError::rule(
                "imageView2",
                offset,
                "missing mode or parameter",
            ))
        }
    };
    let (mut width, mut height) = (None, None);
    let mut output = Vec::new();
    while let Some((po, name)) = t.next() {
        match name {
            "w" | "h" => {
                if mode.is_none() {
                    return Err(ProcessError::rule(
                        name,
                        po,
                        "w and h need a mode before them (imageView2/<mode>/w/<W>/h/<H>)",
                    ));
                }
                let (o, v) = t.value(name, po)?;
                let side = Some(number(v, o, 1, u32::MAX)?);
                if name == "w" {
                    width = side;
                } else {
                    height = side;
                }
            }
            "format" | "q" | "rq" | "lq" | "interlace" | "ignore-error" => {
                let (o, v) = t.value(name, po)?;
                output.extend(view2_output(name, v, o)?);
            }
            "" => return Err(ProcessError::rule(name, po, "empty parameter")),
            _ => return Err(ProcessError::rule(name, po, "unknown parameter")),
        }
    }
    let resize = match mode {
        None => None,
        Some((mo, m, _)) if width.is_none() && height.is_none() => {
            return Err(ProcessError::rule(
                m,
                mo,
                "a mode needs at least one of w and h",
            ))
        }
        Some((_, _, mode)) => Some(View2Resize {
            mode,
            width,
            height,
        }),
    };
    Ok(View2 { resize, output })
}

/// An output parameter of imageView2: the imageMogr2 one it stands for.
fn view2_output(name: &str, v: &str, o: usize) -> Result<Option<OutputOp>> {
    Ok(Some(match name {
        "format" => OutputOp::Format(parse_format(v, o)?),
        "q" => OutputOp::Quality(parse_quality("quality", v, o)?),
        "rq" => OutputOp::Quality(parse_quality("rquality", v, o)?),
        "lq" => OutputOp::Quality(parse_quality("lquality", v, o)?),
        "interlace" => OutputOp::Interlace(parse_flag(v, o)?),
        _ => return Ok(parse_flag(v, o)?.then_some(OutputOp::IgnoreError)),
    }))
}

/// At most this many image watermarks in one rule (docs/protocol.md, watermark).
pub const MAX_IMAGE_WATERMARKS: usize = 10;

fn parse_watermark(t: &mut Tokens<'_>, offset: usize) -> Result<Watermark> {
    let (mo, mode) = t.value("watermark", offset)?;
    let image = match mode {
        "1" => true,
        "2" => false,
        _ => {
            return Err(ProcessError::rule(
                mode,
                mo,
                "watermark mode must be 1 (image) or 2 (text)",
            ))
        }
    };
    let mut url = None;
    let mut text = None;
    let (mut blogo, mut scatype, mut spcent) = (None, None, None);
    let (mut size, mut fill, mut shadow) = (None, None, 0u8);
    let mut w = Watermark {
        mark: Mark::Text {
            text: String::new(),
            size: 0,
            fill: Rgb(0, 0, 0),
            shadow: 0,
        },
        gravity: Gravity::SouthEast,
        dx: 10,
        dy: 10,
        dissolve: if image { 100 } else { 90 },
        batch: false,
        degree: 0.0,
    };
    while let Some((o, name)) = t.next() {
        let (vo, v) = t.value(name, o)?;
        match (name, image) {
            ("image", true) => {
                let raw = decode_base64(v, vo)?;
                url = Some(
                    String::from_utf8(raw)
                        .map_err(|_| ProcessError::rule(v, vo, "URL is not UTF-8"))?,
                );
            }
            ("blogo", true) => blogo = Some(number(v, vo, 1, 2)? as u8),
            ("scatype", true) => scatype = Some(number(v, vo, 1, 3)?),
            ("spcent", true) => spcent = Some(number(v, vo, 1, 1000)?),
            ("text", false) => {
                let raw = decode_base64(v, vo)?;
                let s = String::from_utf8(raw)
                    .map_err(|_| ProcessError::rule(v, vo, "text is not UTF-8"))?;
                if s.is_empty() || s.chars().count() > 256 {
                    return Err(ProcessError::rule(
                        v,
                        vo,
                        "text must have 1 to 256 characters",
                    ));
                }
                text = Some(s);
            }
            ("font", false) => {
                // One font ships with picops; any requested name is accepted and served by it.
                decode_base64(v, vo)?;
            }
            ("fontsize", false) => size = Some(number(v, vo, 1, 1000)?),
            ("fill", false) => fill = Some(parse_color(v, vo)?),
            ("shadow", false) => shadow = number(v, vo, 0, 100)? as u8,
            ("gravity", _) => w.gravity = parse_gravity(v, vo)?,
            ("dx", _) => w.dx = number(v, vo, 0, 4096)?,
            ("dy", _) => w.dy = number(v, vo, 0, 4096)?,
            ("dissolve", _) => w.dissolve = number(v, vo, 1, 100)? as u8,
            ("batch", _) => w.batch = number(v, vo, 0, 1)? == 1,
            ("degree", _) => w.degree = f64::from(number(v, vo, 0, 360)?),
            _ => return Err(ProcessError::rule(name, o, "unknown watermark parameter")),
        }
    }
    w.mark = if image {
        let url =
            url.ok_or_else(|| ProcessError::rule("watermark/1", offset, "image is required"))?;
        let scale = match (scatype, spcent) {
            (Some(1), Some(p)) => Some((ScaleBy::Width, p)),
            (Some(2), Some(p)) => Some((ScaleBy::Height, p)),
            (Some(3), Some(p)) => Some((ScaleBy::Area, p)),
            (None, None) => None,
            _ => {
                return Err(ProcessError::rule(
                    "scatype",
                    offset,
                    "scatype and spcent go together",
                ))
            }
        };
        Mark::Image {
            source: MarkImage::Url(url),
            blogo,
            scale,
        }
    } else {
        Mark::Text {
            text: text
                .ok_or_else(|| ProcessError::rule("watermark/2", offset, "text is required"))?,
            size: size.unwrap_or(40),
            fill: fill.unwrap_or(Rgb(0x3d, 0x3d, 0x3d)),
            shadow,
        }
    };
    Ok(w)
}

#[cfg(test)]
#[path = "parse_tests/mod.rs"]
mod tests;
