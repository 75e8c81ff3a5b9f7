//! One pixel step of a rule, as the walk of a rule makes it for the current size: the size
//! of its result, the most it allocates for one frame, and running it on a frame. The
//! executor (the pipeline) runs it on every frame; its dry run only asks the size
//! and the bytes.

use image::DynamicImage;

use crate::deadline::Deadline;
use crate::error::Result;
use crate::memory::{blur_rows, resize_bytes, rgba, rotate_bytes, sum};
use crate::ops;
use crate::rule::{FlipAxis, Rgb};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Step {
    Resize(u32, u32),
    Pad(u32, u32, Rgb),
    Crop {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
    },
    Circle(u32),
    Rounded(u32),
    Rotate(f64),
    Orient(u16),
    Flip(FlipAxis),
    /// `blur/<radius>x<sigma>`.
    Blur(u32, f32),
    Sharpen(u32),
    Bright(i32),
    Contrast(i32),
    Grayscale,
}

impl Step {
    pub(crate) fn run(&self, img: &DynamicImage, deadline: Deadline) -> Result<DynamicImage> {
        Ok(match *self {
            Step::Resize(w, h) => return ops::resize(img, w, h, deadline),
            Step::Pad(w, h, color) => ops::pad(img, w, h, color),
            Step::Crop { x, y, w, h } => ops::crop(img, x, y, w, h),
            Step::Circle(r) => return ops::circle(img, r, deadline),
            Step::Rounded(r) => return ops::rounded(img, r, deadline),
            Step::Rotate(deg) => return ops::rotate(img, deg, deadline),
            Step::Orient(o) => ops::orient(img, o),
            Step::Flip(axis) => ops::flip(img, axis),
            Step::Blur(r, sigma) => return crate::blur::gaussian_radius(img, r, sigma, deadline),
            Step::Sharpen(v) => return ops::sharpen(img, v, deadline),
            Step::Bright(v) => ops::bright(img, v),
            Step::Contrast(v) => ops::contrast(img, v),
            Step::Grayscale => ops::grayscale(img),
        })
    }

    /// The size of the step's result for a frame of `size`.
    pub(crate) fn size(&self, size: (u32, u32)) -> (u32, u32) {
        let (w, h) = size;
        match *self {
            Step::Resize(tw, th) | Step::Pad(tw, th, _) => (tw, th),
            Step::Crop { x, y, w: cw, h: ch } => ops::crop_size(w, h, x, y, cw, ch),
            Step::Circle(r) => ops::circle_size(w, h, r),
            Step::Rotate(deg) => ops::rotate_size(w, h, deg),
            Step::Orient(5..=8) => (h, w),
            _ => (w, h),
        }
    }

    /// The most this step allocates for one frame of `from` turned into `to` (see
    /// [`crate::memory`] for how bytes are counted).
    pub(crate) fn bytes(&self, from: (u32, u32), to: (u32, u32)) -> u64 {
        let (src, dst) = (rgba(from.0, from.1), rgba(to.0, to.1));
        match *self {
            Step::Resize(..) => resize_bytes(from, to),
            // An RGBA canvas, an RGBA copy of the source, and the RGB result of opaque ones.
            Step::Pad(..) => sum(&[src, dst, dst]),
            // The crop, then its RGBA copy.
            Step::Circle(_) => sum(&[dst, dst]),
            // `orient` 5 and 7 turn, then flip.
            Step::Orient(_) => sum(&[dst, dst]),
            Step::Rotate(deg) => rotate_bytes(from, to, deg),
            // The pass across the rows, and the result.
            Step::Blur(..) => sum(&[src, src, blur_rows(from.0)]),
            // The blur (as above), then the blurred copy beside the result.
            Step::Sharpen(_) => sum(&[src, src, blur_rows(from.0)]),
            Step::Crop { .. }
            | Step::Rounded(_)
            | Step::Flip(_)
            | Step::Bright(_)
            | Step::Contrast(_)
            | Step::Grayscale => dst,
        }
    }
}
