//! Size arithmetic for thumbnail, crop and imageView2, and the decode size a rule needs:
//! pure functions of the input size, so every mode is unit-tested without pixels.

use crate::decode::Source;
use crate::rule::{Crop, Gravity, MogrOp, Only, Processor, Rule, Thumbnail, View2Resize};

/// Where one resize step should land, and an optional centred crop afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub width: u32,
    pub height: u32,
    pub crop: Option<(u32, u32)>,
}

fn side(v: f64) -> u32 {
    (v.round() as u64).clamp(1, u64::from(u32::MAX)) as u32
}

fn scaled(w: u32, h: u32, s: f64) -> (u32, u32) {
    (side(f64::from(w) * s), side(f64::from(h) * s))
}

/// Target size of `thumbnail/<spec>` for a `w`×`h` input.
pub fn thumbnail(spec: &Thumbnail, w: u32, h: u32) -> (u32, u32) {
    let (fw, fh) = (f64::from(w), f64::from(h));
    match *spec {
        Thumbnail::Scale {
            width_pct,
            height_pct,
        } => (side(fw * width_pct / 100.0), side(fh * height_pct / 100.0)),
        Thumbnail::Fit {
            width,
            height,
            only,
        } => {
            let s = match (width, height) {
                (Some(tw), Some(th)) => (f64::from(tw) / fw).min(f64::from(th) / fh),
                (Some(tw), None) => f64::from(tw) / fw,
                (None, Some(th)) => f64::from(th) / fh,
                (None, None) => 1.0,
            };
            match only {
                Only::Shrink if s >= 1.0 => (w, h),
                Only::Enlarge if s <= 1.0 => (w, h),
                // With one side given, that side is exact rather than rounded from the scale.
                _ => match (width, height) {
                    (Some(tw), None) => (tw, side(fh * s)),
                    (None, Some(th)) => (side(fw * s), th),
                    _ => scaled(w, h, s),
                },
            }
        }
        Thumbnail::Cover { width, height } => {
            let s = (f64::from(width) / fw).max(f64::from(height) / fh);
            let (rw, rh) = scaled(w, h, s);
            // Rounding must never leave a side short of the box it has to cover.
            (rw.max(width), rh.max(height))
        }
        Thumbnail::Exact { width, height } => (width, height),
        Thumbnail::Area(area) => {
            let s = (area as f64 / (fw * fh)).sqrt();
            let (mut rw, mut rh) = (
                ((fw * s).floor() as u32).max(1),
                ((fh * s).floor() as u32).max(1),
            );
            while u64::from(rw) * u64::from(rh) > area && (rw > 1 || rh > 1) {
                if rw >= rh {
                    rw -= 1
                } else {
                    rh -= 1
                }
            }
            (rw, rh)
        }
    }
}

/// The plan of `imageView2/<mode>` (docs/protocol.md, imageView2). Never enlarges: a scale
/// above 1 is capped.
pub fn view2(v: &View2Resize, w: u32, h: u32) -> Plan {
    let (fw, fh) = (f64::from(w), f64::from(h));
    let (long, short) = (fw.max(fh), fw.min(fh));
    let landscape = w >= h;
    // Modes 1, 3, 4, 5: a missing side takes the value of the given one.
    let square = |v: &View2Resize| -> (f64, f64) {
        let tw = v.width.or(v.height).unwrap_or(1);
        let th = v.height.or(v.width).unwrap_or(1);
        (f64::from(tw), f64::from(th))
    };
    let (scale, crop) = match v.mode {
        0 => {
            let s = match (v.width, v.height) {
                (Some(tw), Some(th)) => (f64::from(tw) / long).min(f64::from(th) / short),
                (Some(tw), None) => f64::from(tw) / long,
                (None, Some(th)) => f64::from(th) / short,
                (None, None) => 1.0,
            };
            (s, None)
        }
        1 => {
            let (tw, th) = square(v);
            ((tw / fw).max(th / fh), Some((tw, th)))
        }
        2 => {
            let s = match (v.width, v.height) {
                (Some(tw), Some(th)) => (f64::from(tw) / fw).min(f64::from(th) / fh),
                (Some(tw), None) => f64::from(tw) / fw,
                (None, Some(th)) => f64::from(th) / fh,
                (None, None) => 1.0,
            };
            (s, None)
        }
        3 => {
            let (tw, th) = square(v);
            ((tw / fw).max(th / fh), None)
        }
        4 | 5 => {
            let (tw, th) = square(v);
            let s = (tw / long).max(th / short);
            let crop = (v.mode == 5).then_some(if landscape { (tw, th) } else { (th, tw) });
            (s, crop)
        }
        _ => (1.0, None),
    };
    let scale = scale.min(1.0);
    let (rw, rh) = scaled(w, h, scale);
    let crop = crop.map(|(cw, ch)| (side(cw).min(rw), side(ch).min(rh)));
    Plan {
        width: rw,
        height: rh,
        crop: crop.filter(|&c| c != (rw, rh)),
    }
}

/// Top-left corner of a `cw`×`ch` box in a `w`×`h` image, anchored by gravity and moved
/// inwards by dx/dy (ImageMagick's convention: offsets point away from the anchored edge).
pub fn anchor(g: Gravity, w: u32, h: u32, cw: u32, ch: u32, dx: u32, dy: u32) -> (u32, u32) {
    let free_x = w.saturating_sub(cw);
    let free_y = h.saturating_sub(ch);
    let x = match g {
        Gravity::NorthWest | Gravity::West | Gravity::SouthWest => dx.min(free_x),
        Gravity::North | Gravity::Center | Gravity::South => (free_x / 2 + dx).min(free_x),
        _ => free_x.saturating_sub(dx),
    };
    let y = match g {
        Gravity::NorthWest | Gravity::North | Gravity::NorthEast => dy.min(free_y),
        Gravity::West | Gravity::Center | Gravity::East => (free_y / 2 + dy).min(free_y),
        _ => free_y.saturating_sub(dy),
    };
    (x, y)
}

/// The rectangle `crop/<spec>` keeps: (x, y, width, height), clipped to the image.
pub fn crop_rect(c: &Crop, g: Gravity, w: u32, h: u32) -> (u32, u32, u32, u32) {
    let cw = c.width.unwrap_or(w).min(w);
    let ch = c.height.unwrap_or(h).min(h);
    let (x, y) = anchor(g, w, h, cw, ch, c.dx, c.dy);
    (x, y, cw, ch)
}

/// The smallest decoded size `rule` can start from without losing detail: the target of its
/// first resize (thumbnail or imageView2), or the full size when another step comes first.
pub fn needed_size(rule: &Rule, source: &Source) -> (u32, u32) {
    let full = (source.width, source.height);
    // auto-orient before the resize turns the image: the target is in turned coordinates.
    let mut turned = false;
    let first = rule.processors.first();
    let target = match first {
        Some(Processor::ImageView2(v)) => v.resize.map(|r| {
            let p = view2(&r, full.0, full.1);
            (p.width, p.height)
        }),
        Some(Processor::ImageMogr2(ops)) => {
            let mut found = None;
            for op in ops {
                match op {
                    MogrOp::Output(_) => continue,
                    MogrOp::AutoOrient => turned = source.orientation >= 5,
                    MogrOp::Thumbnail { spec, .. } => {
                        let (w, h) = if turned { (full.1, full.0) } else { full };
                        found = Some(thumbnail(spec, w, h));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{parse_rule, MogrOp, Processor, View2};

    fn thumb(rule: &str, w: u32, h: u32) -> (u32, u32) {
        let r = parse_rule(&format!("imageMogr2/thumbnail/{rule}")).unwrap();
        match &r.processors[0] {
            Processor::ImageMogr2(ops) => match &ops[0] {
                MogrOp::Thumbnail { spec, .. } => thumbnail(spec, w, h),
                _ => unreachable!(),
            },
            _ => unreachable!(),
        }
    }

    fn view(rule: &str, w: u32, h: u32) -> (u32, u32) {
        let r = parse_rule(rule).unwrap();
        match &r.processors[0] {
            Processor::ImageView2(View2 {
                resize: Some(v), ..
            }) => {
                let p = view2(v, w, h);
                p.crop.unwrap_or((p.width, p.height))
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn thumbnail_percentages() {
        assert_eq!(thumb("!50p", 1000, 500), (500, 250));
        assert_eq!(thumb("!50px", 1000, 500), (500, 500));
        assert_eq!(thumb("!x50p", 1000, 500), (1000, 250));
        assert_eq!(thumb("!200p", 3, 3), (6, 6));
        assert_eq!(thumb("!1p", 10, 10), (1, 1));
    }

    #[test]
    fn thumbnail_fit_and_flags() {
        assert_eq!(thumb("500x", 1000, 500), (500, 250));
        assert_eq!(thumb("x100", 1000, 500), (200, 100));
        assert_eq!(thumb("400x400", 1000, 500), (400, 200));
        assert_eq!(thumb("2000x2000", 1000, 500), (2000, 1000));
        assert_eq!(thumb("2000x2000>", 1000, 500), (1000, 500));
        assert_eq!(thumb("400x400>", 1000, 500), (400, 200));
        assert_eq!(thumb("400x400<", 1000, 500), (1000, 500));
        assert_eq!(thumb("2000x2000<", 1000, 500), (2000, 1000));
        assert_eq!(thumb("333x", 1001, 999), (333, 332));
        assert_eq!(thumb("10x", 1, 1), (10, 10));
    }

    #[test]
    fn thumbnail_cover_exact_area() {
        assert_eq!(thumb("!300x300r", 1000, 500), (600, 300));
        assert_eq!(thumb("!300x300r", 500, 1000), (300, 600));
        assert_eq!(thumb("123x45!", 1000, 500), (123, 45));
        let (w, h) = thumb("10000@", 1000, 500);
        assert!(w * h <= 10000 && w * h > 9000, "{w}x{h}");
        assert_eq!(thumb("1@", 5, 5), (1, 1));
    }

    #[test]
    fn view2_modes_as_documented() {
        // The examples written in docs/protocol.md, imageView2.
        assert_eq!(view("imageView2/1/w/500/h/400", 1000, 500), (500, 400));
        assert_eq!(view("imageView2/2/w/500/h/400", 1000, 500), (500, 250));
        assert_eq!(view("imageView2/3/w/500/h/400", 1000, 500), (800, 400));
        // Mode 0: long side ≤ W, short side ≤ H.
        assert_eq!(view("imageView2/0/w/400/h/100", 500, 1000), (100, 200));
        assert_eq!(view("imageView2/0/w/400", 500, 1000), (200, 400));
        assert_eq!(view("imageView2/0/h/100", 500, 1000), (100, 200));
        // Mode 1 with one side: a square.
        assert_eq!(view("imageView2/1/w/200", 1000, 500), (200, 200));
        // Mode 2 with one side.
        assert_eq!(view("imageView2/2/h/100", 1000, 500), (200, 100));
        // Mode 4: long ≥ W, short ≥ H.
        assert_eq!(view("imageView2/4/w/500/h/400", 1000, 500), (800, 400));
        // Mode 5: as 4, then crop long W × short H; portrait input swaps the box.
        assert_eq!(view("imageView2/5/w/500/h/400", 1000, 500), (500, 400));
        assert_eq!(view("imageView2/5/w/500/h/400", 500, 1000), (400, 500));
        // Never enlarges.
        assert_eq!(view("imageView2/2/w/5000/h/4000", 1000, 500), (1000, 500));
        assert_eq!(view("imageView2/1/w/5000/h/4000", 1000, 500), (1000, 500));
        assert_eq!(view("imageView2/1/w/800/h/800", 1000, 500), (800, 500));
    }

    #[test]
    fn gravity_anchors() {
        assert_eq!(anchor(Gravity::NorthWest, 100, 100, 10, 10, 0, 0), (0, 0));
        assert_eq!(anchor(Gravity::Center, 100, 100, 10, 10, 0, 0), (45, 45));
        assert_eq!(anchor(Gravity::SouthEast, 100, 100, 10, 10, 5, 5), (85, 85));
        assert_eq!(anchor(Gravity::NorthEast, 100, 100, 10, 10, 0, 0), (90, 0));
        assert_eq!(anchor(Gravity::South, 100, 100, 10, 10, 0, 0), (45, 90));
        // Offsets never push the box out of the image.
        assert_eq!(
            anchor(Gravity::NorthWest, 100, 100, 10, 10, 500, 500),
            (90, 90)
        );
    }
}
