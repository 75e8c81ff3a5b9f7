//! The one parser for the rule grammar (docs/protocol.md, Processing rules): text in, typed
//! [`Rule`] out. Every error names the offending token and its byte offset in the rule text.

use base64::Engine;

use super::ast::*;
use crate::error::{ProcessError, Result};
use crate::format::Format;

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
                MogrOp::Output(OutputOp::FrameLimit(number(v, o, 1, 1000)?))
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
                MogrOp::Output(OutputOp::SizeLimit(parse_size(v, o)?))
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

fn parse_view2(t: &mut Tokens<'_>, offset: usize) -> Result<View2> {
    let (mo, m) = t
        .next()
        .ok_or_else(|| ProcessError::rule("imageView2", offset, "missing mode"))?;
    let mode = match m.parse::<u8>() {
        Ok(n @ 0..=5) => n,
        _ => return Err(ProcessError::rule(m, mo, "mode must be 0-5")),
    };
    let mut view = View2 {
        mode,
        width: None,
        height: None,
        output: Vec::new(),
    };
    while let Some((offset, name)) = t.next() {
        let (o, v) = t.value(name, offset)?;
        match name {
            "w" => view.width = Some(number(v, o, 1, u32::MAX)?),
            "h" => view.height = Some(number(v, o, 1, u32::MAX)?),
            "format" => view.output.push(OutputOp::Format(parse_format(v, o)?)),
            "q" => view
                .output
                .push(OutputOp::Quality(parse_quality("quality", v, o)?)),
            "rq" => view
                .output
                .push(OutputOp::Quality(parse_quality("rquality", v, o)?)),
            "lq" => view
                .output
                .push(OutputOp::Quality(parse_quality("lquality", v, o)?)),
            "interlace" => view.output.push(OutputOp::Interlace(parse_flag(v, o)?)),
            "ignore-error" => {
                if parse_flag(v, o)? {
                    view.output.push(OutputOp::IgnoreError)
                }
            }
            _ => return Err(ProcessError::rule(name, offset, "unknown parameter")),
        }
    }
    if view.width.is_none() && view.height.is_none() {
        return Err(ProcessError::rule(
            "imageView2",
            offset,
            "needs at least one of w and h",
        ));
    }
    Ok(view)
}

fn parse_thumbnail(v: &str, o: usize) -> Result<Thumbnail> {
    let bad = || ProcessError::rule(v, o, "invalid thumbnail size");
    if let Some(area) = v.strip_suffix('@') {
        let a: u64 = area.parse().map_err(|_| bad())?;
        return if a == 0 {
            Err(bad())
        } else {
            Ok(Thumbnail::Area(a))
        };
    }
    if let Some(rest) = v.strip_prefix('!') {
        // Percentages: !50p, !50px, !x50p. Cover: !WxHr.
        if let Some(p) = rest.strip_prefix('x').and_then(|r| r.strip_suffix('p')) {
            return Ok(Thumbnail::Scale {
                width_pct: 100.0,
                height_pct: percent(p, v, o)?,
            });
        }
        if let Some(p) = rest.strip_suffix("px") {
            return Ok(Thumbnail::Scale {
                width_pct: percent(p, v, o)?,
                height_pct: 100.0,
            });
        }
        if let Some(p) = rest.strip_suffix('p') {
            let pct = percent(p, v, o)?;
            return Ok(Thumbnail::Scale {
                width_pct: pct,
                height_pct: pct,
            });
        }
        if let Some(wh) = rest.strip_suffix('r') {
            let (w, h) = size_pair(wh, v, o)?;
            return match (w, h) {
                (Some(width), Some(height)) => Ok(Thumbnail::Cover { width, height }),
                _ => Err(ProcessError::rule(v, o, "cover needs both sides")),
            };
        }
        return Err(bad());
    }
    if let Some(wh) = v.strip_suffix('!') {
        return match size_pair(wh, v, o)? {
            (Some(width), Some(height)) => Ok(Thumbnail::Exact { width, height }),
            _ => Err(ProcessError::rule(v, o, "exact size needs both sides")),
        };
    }
    let (wh, only) = if let Some(s) = v.strip_suffix('>') {
        (s, Only::Shrink)
    } else if let Some(s) = v.strip_suffix('<') {
        (s, Only::Enlarge)
    } else {
        (v, Only::Any)
    };
    let (width, height) = size_pair(wh, v, o)?;
    Ok(Thumbnail::Fit {
        width,
        height,
        only,
    })
}

/// `WxH`, `Wx`, `xH` → sides; at least one must be given, each positive.
fn size_pair(s: &str, token: &str, o: usize) -> Result<(Option<u32>, Option<u32>)> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| ProcessError::rule(token, o, "expected <W>x<H>"))?;
    let side = |x: &str| -> Result<Option<u32>> {
        if x.is_empty() {
            Ok(None)
        } else {
            number(x, o, 1, u32::MAX)
                .map(Some)
                .map_err(|_| ProcessError::rule(token, o, "sides must be positive integers"))
        }
    };
    let pair = (side(w)?, side(h)?);
    if pair == (None, None) {
        return Err(ProcessError::rule(token, o, "expected <W>x<H>"));
    }
    Ok(pair)
}

fn percent(p: &str, token: &str, o: usize) -> Result<f64> {
    match p.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1000.0 && x.is_finite() => Ok(x),
        _ => Err(ProcessError::rule(
            token,
            o,
            "percentage must be in (0, 1000]",
        )),
    }
}

fn parse_crop(v: &str, o: usize) -> Result<Crop> {
    if let Some(rest) = v.strip_prefix('!') {
        // !<W>x<H>a<dx>a<dy>
        let mut parts = rest.splitn(3, 'a');
        let wh = parts.next().unwrap_or_default();
        let dx = parts.next();
        let dy = parts.next();
        let (width, height) = size_pair(wh, v, o)?;
        let off = |x: Option<&str>| -> Result<u32> {
            match x {
                None => Ok(0),
                Some(s) => number(s, o, 0, u32::MAX),
            }
        };
        return Ok(Crop {
            width,
            height,
            dx: off(dx)?,
            dy: off(dy)?,
        });
    }
    let (width, height) = size_pair(v, v, o)?;
    Ok(Crop {
        width,
        height,
        dx: 0,
        dy: 0,
    })
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

fn parse_gravity(v: &str, o: usize) -> Result<Gravity> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "northwest" => Gravity::NorthWest,
        "north" => Gravity::North,
        "northeast" => Gravity::NorthEast,
        "west" => Gravity::West,
        "center" => Gravity::Center,
        "east" => Gravity::East,
        "southwest" => Gravity::SouthWest,
        "south" => Gravity::South,
        "southeast" => Gravity::SouthEast,
        _ => return Err(ProcessError::rule(v, o, "unknown gravity")),
    })
}

fn parse_format(v: &str, o: usize) -> Result<Option<Format>> {
    if v == "src" {
        return Ok(None);
    }
    Format::from_rule_name(v)
        .map(Some)
        .ok_or_else(|| ProcessError::rule(v, o, "unsupported output format"))
}

fn parse_quality(name: &str, v: &str, o: usize) -> Result<QualitySpec> {
    let (num, forced) = match v.strip_suffix('!') {
        Some(n) => (n, true),
        None => (v, false),
    };
    let q = number(num, o, 1, 100)? as u8;
    Ok(match (name, forced) {
        ("quality", false) => QualitySpec::AtMost(q),
        ("quality", true) => QualitySpec::Forced(q),
        ("rquality", false) => QualitySpec::Relative(q),
        ("lquality", false) => QualitySpec::AtLeast(q),
        _ => return Err(ProcessError::rule(v, o, "'!' only applies to quality")),
    })
}

fn parse_size(v: &str, o: usize) -> Result<u64> {
    let v2 = v.strip_suffix('!').unwrap_or(v);
    let (num, mult) = match v2.as_bytes().last() {
        Some(b'k') | Some(b'K') => (&v2[..v2.len() - 1], 1024),
        Some(b'm') | Some(b'M') => (&v2[..v2.len() - 1], 1024 * 1024),
        _ => (v2, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| ProcessError::rule(v, o, "expected <n>[k|m]"))?;
    if n == 0 {
        return Err(ProcessError::rule(v, o, "size limit must be positive"));
    }
    Ok(n * mult)
}

fn parse_flag(v: &str, o: usize) -> Result<bool> {
    match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(ProcessError::rule(v, o, "expected 0 or 1")),
    }
}

/// URL-safe base64 (`-`, `_`), padding optional; standard alphabet tolerated too.
pub fn decode_base64(v: &str, o: usize) -> Result<Vec<u8>> {
    let cleaned: String = v
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cleaned.as_bytes())
        .map_err(|_| ProcessError::rule(v, o, "invalid base64"))
}

fn parse_color(v: &str, o: usize) -> Result<Rgb> {
    let raw = decode_base64(v, o)?;
    let s = std::str::from_utf8(&raw).map_err(|_| ProcessError::rule(v, o, "invalid colour"))?;
    let hex = s.trim().trim_start_matches('#');
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ProcessError::rule(v, o, "colour must be base64 of #RRGGBB"));
    }
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    Ok(Rgb(c(0), c(2), c(4)))
}

fn split_numbers(v: &str, sep: char, o: usize, n: usize) -> Result<Vec<u32>> {
    let parts: Vec<&str> = v.split(sep).collect();
    if parts.len() != n {
        return Err(ProcessError::rule(v, o, "wrong number of values"));
    }
    parts.iter().map(|p| number(p, o, 0, u32::MAX)).collect()
}

fn number(v: &str, o: usize, min: u32, max: u32) -> Result<u32> {
    match v.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ProcessError::rule(
            v,
            o,
            format!("expected an integer in {min}..={max}"),
        )),
    }
}

fn positive(v: &str, o: usize) -> Result<u32> {
    number(v, o, 1, u32::MAX)
}

fn signed(v: &str, o: usize, min: i32, max: i32) -> Result<i32> {
    match v.parse::<i32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ProcessError::rule(
            v,
            o,
            format!("expected an integer in {min}..={max}"),
        )),
    }
}
