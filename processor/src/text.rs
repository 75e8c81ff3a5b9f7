//! Text for `watermark/2`: one line of UTF-8 laid out with the shipped fonts (DejaVu Sans for
//! Latin, Droid Sans Fallback for CJK; see `fonts/README.md`) and rasterised by `ab_glyph`
//! into an RGBA mark: the fill colour with glyph coverage as alpha, plus an optional shadow.

use std::sync::LazyLock;

use ab_glyph::{point, Font, FontRef, Glyph, PxScale, ScaleFont};
use image::{Rgba, RgbaImage};

use crate::error::{ProcessError, Result};
use crate::rule::Rgb;

static LATIN: &[u8] = include_bytes!("../fonts/DejaVuSans-Latin.ttf");
static CJK: &[u8] = include_bytes!("../fonts/DroidSansFallback-GB2312.ttf");

/// The fonts are compiled in and known to parse; a failure here is a build defect.
static FONTS: LazyLock<Vec<FontRef<'static>>> = LazyLock::new(|| {
    [LATIN, CJK]
        .iter()
        .filter_map(|bytes| FontRef::try_from_slice(bytes).ok())
        .collect()
});

/// Largest mark side, whatever the text and size.
const MAX_SIDE: u32 = 8192;

/// A line of text placed in the fonts: its glyphs, and the mark's size with the shadow.
struct Layout {
    placed: Vec<(usize, Glyph)>,
    /// The shadow's offset (0: none).
    off: u32,
    w: u32,
    h: u32,
}

/// Place `text` at `size` px; refuse a mark larger than [`MAX_SIDE`].
fn layout(text: &str, size: u32, shadow: u8) -> Result<Layout> {
    let fonts = &*FONTS;
    if fonts.len() != 2 {
        return Err(ProcessError::Encode(
            "the watermark fonts failed to load".into(),
        ));
    }
    // `fontsize` is the em size; ab_glyph scales by ascent-minus-descent, which differs
    // between the two fonts.
    let scales: Vec<PxScale> = fonts
        .iter()
        .map(|f| {
            let em = f.units_per_em().unwrap_or(1000.0);
            PxScale::from(size as f32 * f.height_unscaled() / em)
        })
        .collect();
    // Each character in the first font that has it.
    let placed: Vec<(usize, Glyph)> = {
        let mut x = 0.0f32;
        let ascent = fonts
            .iter()
            .zip(&scales)
            .map(|(f, s)| f.as_scaled(*s).ascent())
            .fold(0.0f32, f32::max);
        text.chars()
            .filter(|c| !c.is_control())
            .map(|c| {
                let i = fonts.iter().position(|f| f.glyph_id(c).0 != 0).unwrap_or(0);
                let sf = fonts[i].as_scaled(scales[i]);
                let g = sf.scaled_glyph(c);
                let glyph = Glyph {
                    position: point(x, ascent),
                    ..g.clone()
                };
                x += sf.h_advance(g.id);
                (i, glyph)
            })
            .collect()
    };
    let width = placed
        .last()
        .map(|(i, g)| g.position.x + fonts[*i].as_scaled(scales[*i]).h_advance(g.id))
        .unwrap_or(0.0)
        .ceil() as u32;
    let height = fonts
        .iter()
        .zip(&scales)
        .map(|(f, s)| {
            let sf = f.as_scaled(*s);
            sf.ascent() - sf.descent()
        })
        .fold(0.0f32, f32::max)
        .ceil() as u32;
    let off = if shadow > 0 { (size / 20).max(1) } else { 0 };
    let (w, h) = (width + off, height + off);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(ProcessError::InvalidArgument(format!(
            "the text watermark would be {w}x{h} px; at most {MAX_SIDE} px per side"
        )));
    }
    Ok(Layout { placed, off, w, h })
}

/// The size of the mark [`render`] draws, without drawing it.
pub fn size(text: &str, size: u32, shadow: u8) -> Result<(u32, u32)> {
    layout(text, size, shadow).map(|l| (l.w, l.h))
}

pub fn render(text: &str, size: u32, fill: Rgb, shadow: u8) -> Result<RgbaImage> {
    let fonts = &*FONTS;
    let Layout { placed, off, w, h } = layout(text, size, shadow)?;
    let mut mark = RgbaImage::new(w, h);
    let mut draw = |dx: u32, color: [u8; 3], opacity: f32| {
        for (i, g) in &placed {
            if let Some(outlined) = fonts[*i].outline_glyph(g.clone()) {
                let b = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    let x = b.min.x as i64 + gx as i64 + dx as i64;
                    let y = b.min.y as i64 + gy as i64 + dx as i64;
                    if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
                        return;
                    }
                    let a = (coverage.clamp(0.0, 1.0) * opacity * 255.0).round() as u8;
                    let p = mark.get_pixel_mut(x as u32, y as u32);
                    // Text over its shadow: the later layer wins where it is more opaque.
                    if a >= p.0[3] {
                        *p = Rgba([color[0], color[1], color[2], a]);
                    }
                });
            }
        }
    };
    if shadow > 0 {
        draw(off, [0, 0, 0], f32::from(shadow) / 100.0);
    }
    draw(0, [fill.0, fill.1, fill.2], 1.0);
    Ok(mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(m: &RgbaImage) -> usize {
        m.pixels().filter(|p| p.0[3] > 128).count()
    }

    #[test]
    fn latin_and_cjk_draw_ink() {
        let latin = render("picops", 40, Rgb(255, 0, 0), 0).unwrap();
        assert!(latin.width() > 80 && latin.height() >= 40);
        assert!(ink(&latin) > 200);
        let cjk = render("图片处理", 40, Rgb(0, 0, 255), 0).unwrap();
        assert!(cjk.width() >= 150, "{}", cjk.width());
        assert!(ink(&cjk) > 400, "CJK glyphs come from the fallback font");
        let shadowed = render("picops", 40, Rgb(255, 255, 255), 50).unwrap();
        assert!(shadowed.width() > latin.width());
    }
}
