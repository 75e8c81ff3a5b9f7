//! Gaussian blurs, written here so that a deadline is polled every row: with sigma 50 the
//! kernel has up to 331 taps and a large image takes minutes, which `image`'s single call
//! cannot cut short.
//!
//! Two kernels over the same separable convolution (Q0.15 integer weights, each pass rounds
//! to 8 bits, edges repeat the outermost pixel):
//! - [`gaussian`], pixel for pixel `image`'s `DynamicImage::blur` (its kernel, truncated to
//!   Q0.15 as `image` 0.25 does; integer sums do not depend on their order, so the results
//!   are identical), used by `sharpen`;
//! - [`gaussian_radius`], `blur/<r>x<s>`: ImageMagick's `-blur RxS` kernel (2R+1 taps, so a
//!   radius below about 3σ cuts the bell short and the blur is weaker), as COS's
//!   ImageMagick-like engine takes it.

use image::{DynamicImage, GrayAlphaImage, GrayImage, RgbImage, RgbaImage};

use crate::deadline::Deadline;
use crate::error::{ProcessError, Result};

/// Q0.15: weights are fractions of 1 << 15.
const FRACTION_BITS: u32 = 15;

/// `img` blurred with a Gaussian of `sigma` (0 stands for 0.8, as in `image`).
pub fn gaussian(img: &DynamicImage, sigma: f32, deadline: Deadline) -> Result<DynamicImage> {
    let kernel = kernel(if sigma == 0.0 { 0.8 } else { sigma });
    map_samples(img, |samples, width, channels| {
        blur_samples(samples, width, channels, &kernel, deadline)
    })
}

/// `img` blurred as ImageMagick's `-blur <radius>x<sigma>` does: a kernel of exactly
/// `2 * radius + 1` taps (radius 0 stands for 1), whatever sigma asks for.
pub fn gaussian_radius(
    img: &DynamicImage,
    radius: u32,
    sigma: f32,
    deadline: Deadline,
) -> Result<DynamicImage> {
    let kernel = magick_kernel(radius.max(1), f64::from(sigma));
    map_samples(img, |samples, width, channels| {
        blur_samples(samples, width, channels, &kernel, deadline)
    })
}

/// ImageMagick's `blur:RxS` kernel (`AcquireKernelBuiltIn`, `BlurKernel`, as
/// `BlurImage` builds it in 6.9 and 7): 2R+1 taps, each the sum of the Gaussian sampled at
/// three sub-positions (`KernelRank` 3), normalised to 1 after the cut. Rounded to Q0.15
/// with the rounding error given to the centre, so that flat areas keep their value, and
/// zero weights trimmed from both ends.
fn magick_kernel(radius: u32, sigma: f64) -> Vec<u32> {
    const RANK: i64 = 3;
    let width = 2 * radius as usize + 1;
    let mut k = vec![0f64; width];
    if sigma > f64::EPSILON {
        let v = (width as i64 * RANK - 1) / 2;
        let s = sigma * RANK as f64;
        for u in -v..=v {
            k[((u + v) / RANK) as usize] += (-((u * u) as f64) / (2.0 * s * s)).exp();
        }
    } else {
        k[width / 2] = 1.0;
    }
    let total: f64 = k.iter().sum();
    let scale = f64::from(1u32 << FRACTION_BITS);
    let mut q: Vec<u32> = k
        .iter()
        .map(|w| (w / total * scale).round() as u32)
        .collect();
    let rest: u32 = q.iter().sum();
    let centre = &mut q[width / 2];
    *centre = (*centre + (1 << FRACTION_BITS)).saturating_sub(rest);
    while q.len() > 2 && q.first() == Some(&0) && q.last() == Some(&0) {
        q.remove(0);
        q.pop();
    }
    q
}

/// Run `f` over the 8-bit samples of `img` (width in pixels and channels given) and wrap
/// its output in the same layout.
pub(crate) fn map_samples(
    img: &DynamicImage,
    f: impl FnOnce(&[u8], usize, usize) -> Result<Vec<u8>>,
) -> Result<DynamicImage> {
    let (w, h) = (img.width(), img.height());
    let short = || ProcessError::Encode("a pixel step returned a short buffer".into());
    let out = match img {
        DynamicImage::ImageLuma8(i) => {
            GrayImage::from_raw(w, h, f(i.as_raw(), w as usize, 1)?).map(DynamicImage::from)
        }
        DynamicImage::ImageLumaA8(i) => {
            GrayAlphaImage::from_raw(w, h, f(i.as_raw(), w as usize, 2)?).map(DynamicImage::from)
        }
        DynamicImage::ImageRgb8(i) => {
            RgbImage::from_raw(w, h, f(i.as_raw(), w as usize, 3)?).map(DynamicImage::from)
        }
        DynamicImage::ImageRgba8(i) => {
            RgbaImage::from_raw(w, h, f(i.as_raw(), w as usize, 4)?).map(DynamicImage::from)
        }
        other => return map_samples(&crate::decode::normalise(other.clone()), f),
    };
    out.ok_or_else(short)
}

/// `image`'s kernel for `sigma`: its size rule, its f32 weights, truncated to Q0.15, with
/// zero weights trimmed from both ends.
fn kernel(sigma: f32) -> Vec<u32> {
    let scale = (1u32 << FRACTION_BITS) as f32;
    let mut k: Vec<u32> = weights(kernel_size(sigma), sigma)
        .into_iter()
        .map(|w| (w * scale).min(scale - 1.0).max(0.0) as u32)
        .collect();
    while k.len() > 2 && k.first() == Some(&0) && k.last() == Some(&0) {
        k.remove(0);
        k.pop();
    }
    k
}

fn kernel_size(sigma: f32) -> usize {
    let size = ((((sigma - 0.8) / 0.3) + 1.0) * 2.0 + 1.0).max(3.0) as usize;
    size | 1
}

fn weights(size: usize, sigma: f32) -> Vec<f32> {
    let scale = 1.0 / ((2.0 * std::f32::consts::PI).sqrt() * sigma);
    let mean = (size / 2) as f32;
    let mut k: Vec<f32> = (0..size)
        .map(|x| (-0.5 * ((x as f32 - mean) / sigma).powf(2.0)).exp() * scale)
        .collect();
    let sum: f32 = k.iter().fold(0.0, |acc, w| acc + w);
    if sum != 0.0 {
        let norm = 1.0 / sum;
        k.iter_mut().for_each(|w| *w *= norm);
    }
    k
}

/// Round a Q0.15 sum back to a sample.
fn to_sample(acc: u32) -> u8 {
    ((acc + (1 << (FRACTION_BITS - 1))) >> FRACTION_BITS).min(255) as u8
}

/// The separable blur of `src` (rows of `width` pixels of `channels` samples): across each
/// row, then down each column, checking the deadline every row of either pass.
fn blur_samples(
    src: &[u8],
    width: usize,
    channels: usize,
    kernel: &[u32],
    deadline: Deadline,
) -> Result<Vec<u8>> {
    let stride = width * channels;
    if stride == 0 || src.is_empty() {
        return Ok(src.to_vec());
    }
    let mut across = vec![0u8; src.len()];
    let mut acc = vec![0u32; stride];
    let mut arena = Vec::with_capacity(stride + kernel.len() * channels);
    for (row, out) in src
        .chunks_exact(stride)
        .zip(across.chunks_exact_mut(stride))
    {
        deadline.check()?;
        pad_row(row, channels, kernel.len() / 2, &mut arena);
        let taps: Vec<&[u8]> = (0..kernel.len())
            .map(|i| &arena[i * channels..i * channels + stride])
            .collect();
        convolve(&taps, kernel, &mut acc, out);
    }
    let height = src.len() / stride;
    let row = |y: usize| &across[y * stride..(y + 1) * stride];
    let half = kernel.len() / 2;
    let mut out = vec![0u8; src.len()];
    for (y, dst) in out.chunks_exact_mut(stride).enumerate() {
        deadline.check()?;
        // Rows past either edge repeat the edge row.
        let taps: Vec<&[u8]> = (0..kernel.len())
            .map(|i| row((y + i).saturating_sub(half).min(height - 1)))
            .collect();
        convolve(&taps, kernel, &mut acc, dst);
    }
    Ok(out)
}

/// `row` with `pad` pixels repeated at each end, into `arena`.
fn pad_row(row: &[u8], channels: usize, pad: usize, arena: &mut Vec<u8>) {
    arena.clear();
    let (first, last) = (&row[..channels], &row[row.len() - channels..]);
    for _ in 0..pad {
        arena.extend_from_slice(first);
    }
    arena.extend_from_slice(row);
    for _ in 0..pad {
        arena.extend_from_slice(last);
    }
}

/// One output row: `taps[i]` is the input row under kernel weight `i`. The kernel is
/// symmetric, so mirrored taps are added before the multiply (as `image` does).
fn convolve(taps: &[&[u8]], kernel: &[u32], acc: &mut [u32], out: &mut [u8]) {
    let (len, half) = (kernel.len(), kernel.len() / 2);
    for (a, &c) in acc.iter_mut().zip(taps[half]) {
        *a = u32::from(c) * kernel[half];
    }
    for (i, &k) in kernel[..half].iter().enumerate() {
        for ((a, &f), &b) in acc.iter_mut().zip(taps[i]).zip(taps[len - 1 - i]) {
            *a += (u32::from(f) + u32::from(b)) * k;
        }
    }
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = to_sample(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn pattern(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = (x * 7 + y * 13) as u8;
            image::Rgba([v, v.wrapping_mul(3), (x ^ y) as u8, (x * y) as u8])
        })
    }

    #[test]
    fn the_same_pixels_as_image_in_every_layout() {
        let rgba = DynamicImage::ImageRgba8(pattern(67, 45));
        let layouts = [
            rgba.clone(),
            DynamicImage::ImageRgb8(rgba.to_rgb8()),
            DynamicImage::ImageLumaA8(rgba.to_luma_alpha8()),
            DynamicImage::ImageLuma8(rgba.to_luma8()),
        ];
        // Small kernels take image's ring-buffer path, large ones its whole-image path;
        // 50 is larger than the image, so rows and columns repeat their edges throughout.
        for sigma in [0.0, 1.0, 3.0, 9.0, 50.0] {
            for img in &layouts {
                let ours = gaussian(img, sigma, Deadline::NONE).expect("blurred");
                assert_eq!(ours, img.blur(sigma), "sigma {sigma}, {:?}", img.color());
            }
        }
    }

    /// ImageMagick 6.9.11 Q16, `convert` of a white dot on black, one row, `-blur 3x2`:
    /// 4665 8616 12450 14075 12450 8616 4665 (of 65535).
    #[test]
    fn the_kernel_is_imagemagicks() {
        let k = magick_kernel(3, 2.0);
        let magick = [4665u32, 8616, 12450, 14075, 12450, 8616, 4665];
        assert_eq!(k.len(), magick.len());
        for (ours, theirs) in k.iter().zip(magick) {
            assert!((ours * 2).abs_diff(theirs) <= 2, "{k:?}");
        }
        assert_eq!(k.iter().sum::<u32>(), 1 << FRACTION_BITS);
    }

    #[test]
    fn the_radius_cuts_the_kernel() {
        // Radius 2 keeps 5 taps whatever sigma wants; radius 50 keeps 101 where sigma is
        // wide enough, and only the ones that round to a non-zero weight where it is not.
        assert_eq!(magick_kernel(2, 10.0).len(), 5);
        assert_eq!(magick_kernel(50, 20.0).len(), 101);
        assert_eq!(magick_kernel(50, 10.0).len(), 79);
        assert_eq!(magick_kernel(50, 1.0).len(), 9);
        let img = DynamicImage::ImageRgba8(pattern(40, 30));
        let narrow = gaussian_radius(&img, 2, 10.0, Deadline::NONE).expect("blurred");
        let wide = gaussian_radius(&img, 30, 10.0, Deadline::NONE).expect("blurred");
        assert_ne!(narrow, wide);
        // A flat picture stays flat whatever the kernel.
        let flat = DynamicImage::ImageRgb8(RgbImage::from_pixel(9, 7, image::Rgb([1, 128, 255])));
        for (r, s) in [(1, 0.0), (1, 50.0), (50, 1.0), (50, 50.0)] {
            let out = gaussian_radius(&flat, r, s, Deadline::NONE).expect("blurred");
            assert_eq!(out, flat, "{r}x{s}");
        }
    }

    #[test]
    fn a_one_pixel_image_stays_itself() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, image::Rgb([9, 99, 199])));
        let ours = gaussian(&img, 50.0, Deadline::NONE).expect("blurred");
        assert_eq!(ours, img.blur(50.0));
    }

    #[test]
    fn a_deadline_stops_a_large_blur_within_rows() {
        let img = DynamicImage::ImageRgba8(pattern(2000, 2000));
        let started = Instant::now();
        let result = gaussian(
            &img,
            50.0,
            Deadline::at(started + Duration::from_millis(100)),
        );
        assert_eq!(result.err(), Some(ProcessError::Deadline));
        // The whole blur takes tens of seconds; a row takes milliseconds.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
