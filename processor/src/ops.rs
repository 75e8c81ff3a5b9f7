//! Pixel steps. Each takes an image and returns a new one; the pipeline decides the order.
//! Steps with a loop of their own over the pixels poll the deadline every row; the others
//! are a single pass of the `image` crate, bounded by the largest output.

use std::borrow::Cow;

use image::{imageops, DynamicImage, Rgba, RgbaImage};

use crate::deadline::Deadline;
use crate::error::Result;
use crate::rule::{FlipAxis, Rgb};

pub use crate::resize::resize;

pub fn crop(img: &DynamicImage, x: u32, y: u32, w: u32, h: u32) -> DynamicImage {
    img.crop_imm(x, y, w.max(1), h.max(1))
}

/// The size [`crop`] returns: the rectangle clipped to the image, as `image` clips it.
pub fn crop_size(iw: u32, ih: u32, x: u32, y: u32, w: u32, h: u32) -> (u32, u32) {
    let (x, y) = (x.min(iw), y.min(ih));
    (w.max(1).min(iw - x), h.max(1).min(ih - y))
}

/// Place `img` centred on a `w`×`h` canvas of `color`.
pub fn pad(img: &DynamicImage, w: u32, h: u32, color: Rgb) -> DynamicImage {
    let alpha = img.color().has_alpha();
    let mut canvas = RgbaImage::from_pixel(w, h, Rgba([color.0, color.1, color.2, 255]));
    let x = i64::from(w.saturating_sub(img.width()) / 2);
    let y = i64::from(h.saturating_sub(img.height()) / 2);
    imageops::overlay(&mut canvas, &img.to_rgba8(), x, y);
    if alpha {
        DynamicImage::ImageRgba8(canvas)
    } else {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(canvas).to_rgb8())
    }
}

pub fn flip(img: &DynamicImage, axis: FlipAxis) -> DynamicImage {
    match axis {
        FlipAxis::Vertical => img.flipv(),
        FlipAxis::Horizontal => img.fliph(),
    }
}

/// Turn an image stored with EXIF `orientation` upright.
pub fn orient(img: &DynamicImage, orientation: u16) -> DynamicImage {
    match orientation {
        2 => img.fliph(),
        3 => img.rotate180(),
        4 => img.flipv(),
        5 => img.rotate90().fliph(),
        6 => img.rotate90(),
        7 => img.rotate270().fliph(),
        8 => img.rotate270(),
        _ => img.clone(),
    }
}

/// Size of the canvas holding a `w`×`h` image rotated by `deg`.
pub fn rotated_size(w: u32, h: u32, deg: f64) -> (u32, u32) {
    let r = deg.to_radians();
    let (s, c) = (r.sin().abs(), r.cos().abs());
    let (fw, fh) = (f64::from(w), f64::from(h));
    (
        ((fw * c + fh * s).round() as u32).max(1),
        ((fw * s + fh * c).round() as u32).max(1),
    )
}

/// Size of the result of [`rotate`]: right angles turn the image exactly.
pub fn rotate_size(w: u32, h: u32, deg: f64) -> (u32, u32) {
    let deg = deg.rem_euclid(360.0);
    if deg == 0.0 || deg == 180.0 {
        (w, h)
    } else if deg == 90.0 || deg == 270.0 {
        (h, w)
    } else {
        rotated_size(w, h, deg)
    }
}

/// Rotate clockwise by any angle; the corners uncovered are transparent (white once a
/// format without alpha flattens them).
pub fn rotate(img: &DynamicImage, deg: f64, deadline: Deadline) -> Result<DynamicImage> {
    let deg = deg.rem_euclid(360.0);
    // Right angles are exact pixel moves, no resampling.
    if deg == 0.0 {
        return Ok(img.clone());
    }
    if deg == 90.0 {
        return Ok(img.rotate90());
    }
    if deg == 180.0 {
        return Ok(img.rotate180());
    }
    if deg == 270.0 {
        return Ok(img.rotate270());
    }
    let src = img.to_rgba8();
    let (w, h) = src.dimensions();
    let (ow, oh) = rotated_size(w, h, deg);
    let r = deg.to_radians();
    let (sin, cos) = (r.sin(), r.cos());
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let (ocx, ocy) = (f64::from(ow) / 2.0, f64::from(oh) / 2.0);
    let mut out = RgbaImage::new(ow, oh);
    for (y, row) in out.rows_mut().enumerate() {
        deadline.check()?;
        for (x, px) in row.enumerate() {
            // Inverse mapping: where in the source does this output pixel come from?
            let dx = x as f64 + 0.5 - ocx;
            let dy = y as f64 + 0.5 - ocy;
            let sx = dx * cos + dy * sin + cx - 0.5;
            let sy = -dx * sin + dy * cos + cy - 0.5;
            *px = bilinear(&src, sx, sy);
        }
    }
    Ok(DynamicImage::ImageRgba8(out))
}

fn bilinear(src: &RgbaImage, x: f64, y: f64) -> Rgba<u8> {
    let (w, h) = (i64::from(src.width()), i64::from(src.height()));
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let sample = |xi: i64, yi: i64| -> [f64; 4] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            return [0.0; 4];
        }
        let p = src.get_pixel(xi as u32, yi as u32).0;
        // Premultiply so transparent neighbours don't bleed black into the edge.
        let a = f64::from(p[3]) / 255.0;
        [
            f64::from(p[0]) * a,
            f64::from(p[1]) * a,
            f64::from(p[2]) * a,
            f64::from(p[3]),
        ]
    };
    let (a, b, c, d) = (
        sample(x0, y0),
        sample(x0 + 1, y0),
        sample(x0, y0 + 1),
        sample(x0 + 1, y0 + 1),
    );
    let mut out = [0.0; 4];
    for i in 0..4 {
        out[i] =
            (a[i] * (1.0 - fx) + b[i] * fx) * (1.0 - fy) + (c[i] * (1.0 - fx) + d[i] * fx) * fy;
    }
    let alpha = out[3];
    if alpha <= 0.0 {
        return Rgba([0, 0, 0, 0]);
    }
    let un = |v: f64| (v * 255.0 / alpha).round().clamp(0.0, 255.0) as u8;
    Rgba([
        un(out[0]),
        un(out[1]),
        un(out[2]),
        alpha.round().clamp(0.0, 255.0) as u8,
    ])
}

/// `iradius/r`'s radius on a `w`×`h` image: capped at half the short side.
fn circle_radius(w: u32, h: u32, r: u32) -> u32 {
    r.min(w / 2).min(h / 2).max(1)
}

/// Size of the result of [`circle`].
pub fn circle_size(w: u32, h: u32, r: u32) -> (u32, u32) {
    let d = 2 * circle_radius(w, h, r);
    (d.min(w), d.min(h))
}

/// `iradius/r`: the centred circle of radius r (capped at half the short side), transparent
/// outside; the result is 2r×2r.
pub fn circle(img: &DynamicImage, r: u32, deadline: Deadline) -> Result<DynamicImage> {
    let r = circle_radius(img.width(), img.height(), r);
    let d = 2 * r;
    let x = (img.width() - d.min(img.width())) / 2;
    let y = (img.height() - d.min(img.height())) / 2;
    let mut out = img.crop_imm(x, y, d, d).to_rgba8();
    let c = f64::from(r);
    for (py, row) in out.rows_mut().enumerate() {
        deadline.check()?;
        for (px, p) in row.enumerate() {
            let dist = ((px as f64 + 0.5 - c).powi(2) + (py as f64 + 0.5 - c).powi(2)).sqrt();
            p.0[3] = scale_alpha(p.0[3], coverage(c - dist));
        }
    }
    Ok(DynamicImage::ImageRgba8(out))
}

/// `rradius/r`: rounded corners of radius r (capped at half the short side).
pub fn rounded(img: &DynamicImage, r: u32, deadline: Deadline) -> Result<DynamicImage> {
    let mut out = img.to_rgba8();
    let (w, h) = out.dimensions();
    let r = f64::from(r.min(w / 2).min(h / 2));
    let (fw, fh) = (f64::from(w), f64::from(h));
    for (py, row) in out.rows_mut().enumerate() {
        deadline.check()?;
        let y = py as f64 + 0.5;
        let cy = if y < r {
            r
        } else if y > fh - r {
            fh - r
        } else {
            // Rows between the corners keep every pixel.
            continue;
        };
        for (px, p) in row.enumerate() {
            let x = px as f64 + 0.5;
            let cx = if x < r {
                r
            } else if x > fw - r {
                fw - r
            } else {
                continue;
            };
            let dist = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
            p.0[3] = scale_alpha(p.0[3], coverage(r - dist));
        }
    }
    Ok(DynamicImage::ImageRgba8(out))
}

/// Antialiased coverage of a pixel whose centre is `inside` pixels within an edge.
fn coverage(inside: f64) -> f64 {
    (inside + 0.5).clamp(0.0, 1.0)
}

fn scale_alpha(a: u8, k: f64) -> u8 {
    (f64::from(a) * k).round() as u8
}

pub fn blur(img: &DynamicImage, sigma: f32, deadline: Deadline) -> Result<DynamicImage> {
    crate::blur::gaussian(img, sigma, deadline)
}

/// Unsharp mask; `amount` 10..300 is the strength in percent.
pub fn sharpen(img: &DynamicImage, amount: u32, deadline: Deadline) -> Result<DynamicImage> {
    let blurred = blur(img, 1.0, deadline)?;
    let k = amount as f32 / 100.0;
    crate::blur::map_samples(img, |samples, width, channels| {
        let has_alpha = channels == 2 || channels == 4;
        let stride = (width * channels).max(1);
        let mut out = samples.to_vec();
        for (row, smooth) in out
            .chunks_mut(stride)
            .zip(blurred.as_bytes().chunks(stride))
        {
            deadline.check()?;
            unsharp(row, smooth, k, channels, has_alpha);
        }
        Ok(out)
    })
}

fn unsharp(out: &mut [u8], blurred: &[u8], k: f32, channels: usize, has_alpha: bool) {
    for (i, (o, &b)) in out.iter_mut().zip(blurred).enumerate() {
        if has_alpha && i % channels == channels - 1 {
            continue;
        }
        let v = f32::from(*o) + (f32::from(*o) - f32::from(b)) * k;
        *o = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// `bright/v`, v in -100..100: shift every channel by v % of full scale.
pub fn bright(img: &DynamicImage, v: i32) -> DynamicImage {
    img.brighten(v * 255 / 100)
}

/// `contrast/v`, v in -100..100.
pub fn contrast(img: &DynamicImage, v: i32) -> DynamicImage {
    img.adjust_contrast(v as f32)
}

pub fn grayscale(img: &DynamicImage) -> DynamicImage {
    if img.color().has_alpha() {
        DynamicImage::ImageLumaA8(img.to_luma_alpha8())
    } else {
        DynamicImage::ImageLuma8(img.to_luma8())
    }
}

/// Composite alpha over white, for formats without alpha (JPEG, and BMP here).
pub fn flatten_on_white(img: &DynamicImage) -> Cow<'_, DynamicImage> {
    match img {
        DynamicImage::ImageRgba8(rgba) => {
            let mut out = image::RgbImage::new(rgba.width(), rgba.height());
            for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
                let a = u32::from(p.0[3]);
                for c in 0..3 {
                    o.0[c] = ((u32::from(p.0[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
                }
            }
            Cow::Owned(DynamicImage::ImageRgb8(out))
        }
        DynamicImage::ImageLumaA8(la) => {
            let mut out = image::GrayImage::new(la.width(), la.height());
            for (o, p) in out.pixels_mut().zip(la.pixels()) {
                let a = u32::from(p.0[1]);
                o.0[0] = ((u32::from(p.0[0]) * a + 255 * (255 - a) + 127) / 255) as u8;
            }
            Cow::Owned(DynamicImage::ImageLuma8(out))
        }
        other => Cow::Borrowed(other),
    }
}

/// Average colour as (r, g, b), alpha ignored.
pub fn average(img: &DynamicImage) -> (u8, u8, u8) {
    let (mut r, mut g, mut b) = (0u64, 0u64, 0u64);
    let n = u64::from(img.width()) * u64::from(img.height());
    match img {
        DynamicImage::ImageRgb8(i) => i.as_raw().chunks_exact(3).for_each(|p| {
            r += u64::from(p[0]);
            g += u64::from(p[1]);
            b += u64::from(p[2]);
        }),
        DynamicImage::ImageRgba8(i) => i.as_raw().chunks_exact(4).for_each(|p| {
            r += u64::from(p[0]);
            g += u64::from(p[1]);
            b += u64::from(p[2]);
        }),
        DynamicImage::ImageLuma8(i) => i.as_raw().iter().for_each(|&p| r += u64::from(p)),
        DynamicImage::ImageLumaA8(i) => i
            .as_raw()
            .chunks_exact(2)
            .for_each(|p| r += u64::from(p[0])),
        other => return average(&crate::decode::normalise(other.clone())),
    }
    if matches!(
        img,
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageLumaA8(_)
    ) {
        g = r;
        b = r;
    }
    let n = n.max(1);
    ((r / n) as u8, (g / n) as u8, (b / n) as u8)
}

#[cfg(test)]
mod tests {
    use image::{GrayAlphaImage, LumaA, Rgb as Px, RgbImage};

    use super::*;

    /// A `w`×`h` image whose every pixel is different: red is x, green is y.
    fn coordinates(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| Px([x as u8, y as u8, 7])))
    }

    fn opaque(c: [u8; 3]) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_pixel(20, 10, Px(c)))
    }

    #[test]
    fn crop_size_clips_to_the_image_as_crop_does() {
        let img = coordinates(10, 8);
        for (x, y, w, h) in [
            (0, 0, 4, 3),
            (8, 6, 5, 5),
            (9, 7, 1, 1),
            (0, 0, 0, 0),
            (3, 2, 100, 100),
        ] {
            let out = crop(&img, x, y, w, h);
            assert_eq!(
                (out.width(), out.height()),
                crop_size(10, 8, x, y, w, h),
                "{x},{y} {w}x{h}"
            );
        }
        assert_eq!(crop_size(10, 8, 8, 6, 5, 5), (2, 2));
        // An empty request still keeps one pixel.
        assert_eq!(crop_size(10, 8, 0, 0, 0, 0), (1, 1));
        // The crop starts where it says.
        let out = crop(&coordinates(10, 8), 3, 2, 2, 2).to_rgb8();
        assert_eq!(out.get_pixel(0, 0), &Px([3, 2, 7]));
    }

    #[test]
    fn orient_follows_the_exif_definition_of_every_orientation() {
        let (w, h) = (3u32, 2u32);
        let img = coordinates(w, h);
        // Where each displayed pixel (x, y) comes from in the stored image.
        let from = |o: u16, x: u32, y: u32| -> (u32, u32) {
            match o {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                8 => (w - 1 - y, x),
                _ => (x, y),
            }
        };
        for o in 1..=8u16 {
            let out = orient(&img, o).to_rgb8();
            let turned = o >= 5;
            assert_eq!(
                out.dimensions(),
                if turned { (h, w) } else { (w, h) },
                "orientation {o}"
            );
            for (x, y, p) in out.enumerate_pixels() {
                let (sx, sy) = from(o, x, y);
                assert_eq!(
                    p,
                    &Px([sx as u8, sy as u8, 7]),
                    "orientation {o} at {x},{y}"
                );
            }
        }
        // Values outside 1-8 leave the image as it is.
        assert_eq!(orient(&img, 0), img);
        assert_eq!(orient(&img, 9), img);
    }

    #[test]
    fn rotate_turns_clockwise_and_rotate_size_predicts_its_size() {
        let img = coordinates(40, 20);
        for deg in [0.0, 33.0, 45.0, 90.0, 180.0, 270.0, 359.5, 360.0] {
            let out = rotate(&img, deg, Deadline::NONE).expect("rotated");
            assert_eq!(
                (out.width(), out.height()),
                rotate_size(40, 20, deg),
                "{deg}°"
            );
        }
        assert_eq!(rotate_size(40, 20, 90.0), (20, 40));
        assert_eq!(rotate_size(40, 20, 270.0), (20, 40));
        assert_eq!(rotate_size(40, 20, 180.0), (40, 20));
        assert_eq!(rotate_size(40, 20, 360.0), (40, 20));
        // A quarter turn clockwise: the stored top-left corner ends top right.
        let out = rotate(&img, 90.0, Deadline::NONE)
            .expect("rotated")
            .to_rgb8();
        assert_eq!(out.get_pixel(19, 0), &Px([0, 0, 7]));
    }

    #[test]
    fn an_oblique_rotation_leaves_the_corners_transparent() {
        let out = rotate(&opaque([200, 10, 10]), 45.0, Deadline::NONE)
            .expect("rotated")
            .to_rgba8();
        let (w, h) = out.dimensions();
        assert_eq!(out.get_pixel(0, 0).0[3], 0);
        assert_eq!(out.get_pixel(w - 1, h - 1).0[3], 0);
        assert_eq!(out.get_pixel(w / 2, h / 2), &Rgba([200, 10, 10, 255]));
    }

    #[test]
    fn a_passed_deadline_stops_the_steps_that_loop_over_rows() {
        let img = coordinates(64, 64);
        let past = Deadline::at(std::time::Instant::now());
        assert!(rotate(&img, 33.0, past).is_err());
        assert!(circle(&img, 20, past).is_err());
        assert!(rounded(&img, 20, past).is_err());
        assert!(sharpen(&img, 100, past).is_err());
        // Right angles move pixels without a loop of their own.
        assert!(rotate(&img, 90.0, past).is_ok());
    }

    #[test]
    fn circle_is_capped_at_half_the_short_side_and_clear_outside() {
        assert_eq!(circle_size(20, 10, 100), (10, 10));
        assert_eq!(circle_size(20, 10, 3), (6, 6));
        let out = circle(&opaque([1, 2, 3]), 100, Deadline::NONE)
            .expect("circle")
            .to_rgba8();
        assert_eq!(out.dimensions(), circle_size(20, 10, 100));
        assert_eq!(out.get_pixel(0, 0).0[3], 0, "a corner is outside");
        assert_eq!(out.get_pixel(5, 5), &Rgba([1, 2, 3, 255]), "the centre");
    }

    #[test]
    fn rounded_clears_only_the_corners() {
        let out = rounded(&opaque([9, 9, 9]), 4, Deadline::NONE)
            .expect("rounded")
            .to_rgba8();
        assert_eq!(out.dimensions(), (20, 10));
        for (x, y) in [(0, 0), (19, 0), (0, 9), (19, 9)] {
            assert_eq!(out.get_pixel(x, y).0[3], 0, "corner {x},{y}");
        }
        for (x, y) in [(10, 0), (0, 5), (19, 5), (10, 9), (10, 5)] {
            assert_eq!(out.get_pixel(x, y).0[3], 255, "edge or centre {x},{y}");
        }
        let square = rounded(&opaque([9, 9, 9]), 0, Deadline::NONE).expect("rounded");
        assert!(square.to_rgba8().pixels().all(|p| p.0[3] == 255));
    }

    #[test]
    fn pad_centres_the_image_on_the_colour() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 2, Px([0, 0, 0])));
        let out = pad(&img, 8, 6, Rgb(255, 0, 0));
        let DynamicImage::ImageRgb8(out) = out else {
            panic!("an opaque input stays RGB");
        };
        assert_eq!(out.dimensions(), (8, 6));
        assert_eq!(out.get_pixel(0, 0), &Px([255, 0, 0]));
        assert_eq!(out.get_pixel(1, 2), &Px([255, 0, 0]));
        assert_eq!(out.get_pixel(2, 2), &Px([0, 0, 0]));
        assert_eq!(out.get_pixel(5, 3), &Px([0, 0, 0]));
        assert_eq!(out.get_pixel(6, 3), &Px([255, 0, 0]));
        // Transparency is kept when the input has it.
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, Rgba([0, 0, 0, 0])));
        assert!(pad(&clear, 4, 4, Rgb(1, 1, 1)).color().has_alpha());
    }

    #[test]
    fn flatten_on_white_composites_alpha_and_leaves_opaque_images_alone() {
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(3, 1, |x, _| {
            Rgba([0, 0, 0, [0, 255, 128][x as usize]])
        }));
        let flat = flatten_on_white(&rgba).to_rgb8();
        assert_eq!(flat.get_pixel(0, 0), &Px([255, 255, 255]));
        assert_eq!(flat.get_pixel(1, 0), &Px([0, 0, 0]));
        assert_eq!(flat.get_pixel(2, 0), &Px([127, 127, 127]));
        let la = DynamicImage::ImageLumaA8(GrayAlphaImage::from_pixel(1, 1, LumaA([0, 0])));
        assert_eq!(flatten_on_white(&la).to_luma8().get_pixel(0, 0).0, [255]);
        let rgb = opaque([1, 2, 3]);
        assert!(matches!(flatten_on_white(&rgb), Cow::Borrowed(_)));
    }

    #[test]
    fn average_ignores_alpha_and_handles_grey() {
        let four = DynamicImage::ImageRgb8(RgbImage::from_fn(2, 2, |x, y| {
            Px(match (x, y) {
                (0, 0) => [255, 0, 0],
                (1, 0) => [0, 255, 0],
                (0, 1) => [0, 0, 255],
                _ => [255, 255, 255],
            })
        }));
        assert_eq!(average(&four), (127, 127, 127));
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(2, 2, Rgba([10, 20, 30, 0])));
        assert_eq!(average(&clear), (10, 20, 30));
        let grey = DynamicImage::ImageLumaA8(GrayAlphaImage::from_pixel(2, 2, LumaA([90, 9])));
        assert_eq!(average(&grey), (90, 90, 90));
    }

    #[test]
    fn grayscale_keeps_alpha_only_when_there_is_some() {
        assert!(matches!(
            grayscale(&opaque([10, 200, 30])),
            DynamicImage::ImageLuma8(_)
        ));
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(1, 1, Rgba([10, 200, 30, 40])));
        let DynamicImage::ImageLumaA8(g) = grayscale(&rgba) else {
            panic!("alpha dropped");
        };
        assert_eq!(g.get_pixel(0, 0).0[1], 40);
    }

    #[test]
    fn bright_and_contrast_move_levels_the_right_way() {
        let mid = opaque([100, 100, 100]);
        let level = |img: DynamicImage| img.to_rgb8().get_pixel(0, 0).0[0];
        assert_eq!(level(bright(&mid, 0)), 100);
        assert!(level(bright(&mid, 20)) > 100);
        assert!(level(bright(&mid, -20)) < 100);
        assert_eq!(level(bright(&mid, 100)), 255);
        assert_eq!(level(bright(&mid, -100)), 0);
        // Contrast pushes levels away from the middle, or pulls them in.
        assert!(level(contrast(&mid, 50)) < 100);
        assert!(level(contrast(&opaque([160, 160, 160]), 50)) > 160);
        assert!(level(contrast(&mid, -50)) > 100);
    }

    #[test]
    fn sharpen_steepens_an_edge_and_leaves_flat_areas() {
        let edge = DynamicImage::ImageRgb8(RgbImage::from_fn(20, 4, |x, _| {
            Px(if x < 10 { [80; 3] } else { [160; 3] })
        }));
        let out = sharpen(&edge, 200, Deadline::NONE)
            .expect("sharpened")
            .to_rgb8();
        assert!(out.get_pixel(9, 1).0[0] < 80, "dark side darkened");
        assert!(out.get_pixel(10, 1).0[0] > 160, "light side lightened");
        assert_eq!(out.get_pixel(0, 1).0[0], 80, "far from the edge");
        let flat = opaque([50, 60, 70]);
        assert_eq!(
            sharpen(&flat, 300, Deadline::NONE).expect("sharpened"),
            flat
        );
    }
}
