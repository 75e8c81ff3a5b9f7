//! The values of rule parameters: sizes, percentages, colours, formats, qualities and the
//! integers in between. Each parser takes the value and its byte offset in the rule, and
//! names both in its error.

use base64::Engine;

use super::ast::*;
use crate::error::{ProcessError, Result};
use crate::format::Format;

pub(super) fn parse_thumbnail(v: &str, o: usize) -> Result<Thumbnail> {
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

pub(super) fn parse_crop(v: &str, o: usize) -> Result<Crop> {
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

pub(super) fn parse_gravity(v: &str, o: usize) -> Result<Gravity> {
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

pub(super) fn parse_format(v: &str, o: usize) -> Result<Option<Format>> {
    if v == "src" {
        return Ok(None);
    }
    if matches!(v.to_ascii_lowercase().as_str(), "avif" | "heif" | "heic") {
        return Err(ProcessError::rule(
            v,
            o,
            "unsupported output format: picops reads HEIF/HEIC and AVIF images but does not \
             write them; use jpg, png, webp, gif or bmp",
        ));
    }
    Format::from_rule_name(v)
        .map(Some)
        .ok_or_else(|| ProcessError::rule(v, o, "unsupported output format"))
}

pub(super) fn parse_quality(name: &str, v: &str, o: usize) -> Result<QualitySpec> {
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

/// `size-limit/<n>[k|m][!]`: the limit in bytes (k = KiB, m = MiB), and whether the `!`
/// (answer the input unless the result is smaller) is there.
pub(super) fn parse_size(v: &str, o: usize) -> Result<(u64, bool)> {
    let (v2, bang) = match v.strip_suffix('!') {
        Some(rest) => (rest, true),
        None => (v, false),
    };
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
    n.checked_mul(mult)
        .map(|bytes| (bytes, bang))
        .ok_or_else(|| ProcessError::rule(v, o, "size limit too large"))
}

pub(super) fn parse_flag(v: &str, o: usize) -> Result<bool> {
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

pub(super) fn parse_color(v: &str, o: usize) -> Result<Rgb> {
    let raw = decode_base64(v, o)?;
    let s = std::str::from_utf8(&raw).map_err(|_| ProcessError::rule(v, o, "invalid colour"))?;
    let hex = s.trim().trim_start_matches('#');
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ProcessError::rule(v, o, "colour must be base64 of #RRGGBB"));
    }
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    Ok(Rgb(c(0), c(2), c(4)))
}

pub(super) fn split_numbers(v: &str, sep: char, o: usize, n: usize) -> Result<Vec<u32>> {
    let parts: Vec<&str> = v.split(sep).collect();
    if parts.len() != n {
        return Err(ProcessError::rule(v, o, "wrong number of values"));
    }
    parts.iter().map(|p| number(p, o, 0, u32::MAX)).collect()
}

pub(super) fn number(v: &str, o: usize, min: u32, max: u32) -> Result<u32> {
    match v.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ProcessError::rule(
            v,
            o,
            format!("expected an integer in {min}..={max}"),
        )),
    }
}

pub(super) fn positive(v: &str, o: usize) -> Result<u32> {
    number(v, o, 1, u32::MAX)
}

pub(super) fn signed(v: &str, o: usize, min: i32, max: i32) -> Result<i32> {
    match v.parse::<i32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ProcessError::rule(
            v,
            o,
            format!("expected an integer in {min}..={max}"),
        )),
    }
}
