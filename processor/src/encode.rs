//! Encoders, one per output format, and the quality rules of docs/protocol.md (imageMogr2).

use std::borrow::Cow;
use std::io::Cursor;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{Delay, DynamicImage, ImageEncoder};

use crate::deadline::Deadline;
use crate::decode::Frame;
use crate::error::{ProcessError, Result};
use crate::format::Format;
use crate::ops;
use crate::rule::QualitySpec;
use crate::webp_encode;

/// Quality used when the rule says nothing and the input has no lossy quality of its own.
pub const DEFAULT_QUALITY: u8 = 85;

/// How to write the result.
#[derive(Debug, Clone, Default)]
pub struct Settings<'a> {
    pub quality: u8,
    /// WebP only: lossless (chosen by `quality/100!`).
    pub lossless: bool,
    /// Progressive JPEG, Adam7 PNG, interlaced GIF (see [`crate::interlace`]).
    pub interlace: bool,
    pub icc: Option<&'a [u8]>,
    pub exif: Option<&'a [u8]>,
}

/// The output quality from the rule's spec and the input's estimated quality.
pub fn resolve_quality(spec: Option<QualitySpec>, input: Option<u8>, input_lossy_jpeg: bool) -> u8 {
    let base = input.unwrap_or(DEFAULT_QUALITY);
    let q = match spec {
        None if input_lossy_jpeg => base,
        None => DEFAULT_QUALITY,
        Some(QualitySpec::AtMost(q)) => q.min(base),
        Some(QualitySpec::Forced(q)) => q,
        Some(QualitySpec::Relative(q)) => ((u32::from(base) * u32::from(q) + 50) / 100) as u8,
        Some(QualitySpec::AtLeast(q)) => q.max(base),
    };
    q.clamp(1, 100)
}

/// Refuse an output format picops reads but does not write (an input's own, kept when the
/// rule names no `format`): HEIF and AVIF.
pub fn check_writable(format: Format) -> Result<()> {
    if format.is_writable() {
        Ok(())
    } else {
        Err(unwritable(format))
    }
}

fn unwritable(format: Format) -> ProcessError {
    ProcessError::InvalidArgument(format!(
        "{} output is not supported: picops reads HEIF/HEIC and AVIF images but does not write \
         them; add format/jpg (or png, webp) to the rule",
        format.name()
    ))
}

fn fail(format: Format, e: impl std::fmt::Display) -> ProcessError {
    ProcessError::Encode(format!("{}: {e}", format.name()))
}

/// Encode `frames` (one unless the format is animated). Past `deadline` the encode stops
/// between frames, and inside libwebp; JPEG, PNG and BMP encode one picture in one pass.
pub fn encode(
    frames: &[Frame],
    format: Format,
    s: &Settings<'_>,
    deadline: Deadline,
) -> Result<Vec<u8>> {
    deadline.check()?;
    let first = &frames
        .first()
        .ok_or_else(|| ProcessError::Encode("no frame to encode".into()))?
        .image;
    match format {
        Format::Jpeg => encode_jpeg(first, s),
        Format::Webp => encode_webp(frames, s, deadline),
        Format::Png if s.interlace => crate::interlace::png(first, s.icc, deadline),
        Format::Png => encode_png(first, s),
        Format::Gif if s.interlace => crate::interlace::gif(frames, deadline),
        Format::Gif => encode_gif(frames, deadline),
        Format::Bmp => {
            let img = ops::flatten_on_white(first);
            let mut out = Vec::new();
            image::codecs::bmp::BmpEncoder::new(&mut out)
                .write_image(
                    img.as_bytes(),
                    img.width(),
                    img.height(),
                    img.color().into(),
                )
                .map_err(|e| fail(format, e))?;
            Ok(out)
        }
        Format::Heif | Format::Avif => Err(unwritable(format)),
    }
}

fn encode_jpeg(img: &DynamicImage, s: &Settings<'_>) -> Result<Vec<u8>> {
    let img = ops::flatten_on_white(img);
    let (w, h) = (img.width(), img.height());
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(ProcessError::InvalidArgument(format!(
            "{w}x{h} is too large for JPEG"
        )));
    };
    let color = match img.as_ref() {
        DynamicImage::ImageLuma8(_) => jpeg_encoder::ColorType::Luma,
        _ => jpeg_encoder::ColorType::Rgb,
    };
    let img = match img.as_ref() {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => img,
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    let mut out = Vec::with_capacity(img.as_bytes().len() / 8);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, s.quality);
    enc.set_progressive(s.interlace);
    // Standard tables, not optimised ones: with optimised tables jpeg-encoder writes one scan
    // per component instead of one interleaved scan. That is valid JPEG, but zune-jpeg (the
    // decoder of Rust's `image` crate) shows it with wrong colours, and picops' outputs must
    // read right everywhere. The few bytes optimised tables save are not worth that;
    // libvips and Pillow do not optimise by default either.
    enc.set_optimized_huffman_tables(false);
    // 4:2:0 chroma from the mean of each 2×2 block, as libjpeg, libvips and Pillow take it,
    // not from its top-left pixel (the crate's default): the colours are truer and the
    // output no larger, for little extra work.
    enc.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
    if let Some(icc) = s.icc {
        enc.add_icc_profile(icc)
            .map_err(|e| fail(Format::Jpeg, e))?;
    }
    if let Some(exif) = s.exif {
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(exif.strip_prefix(b"Exif\0\0").unwrap_or(exif));
        // An EXIF block too large for one segment is dropped rather than failing the image.
        if app1.len() < 65_000 {
            enc.add_app_segment(1, app1)
                .map_err(|e| fail(Format::Jpeg, e))?;
        }
    }
    enc.encode(img.as_bytes(), w16, h16, color)
        .map_err(|e| fail(Format::Jpeg, e))?;
    Ok(out)
}

/// A still, or every frame with its duration through libwebp's animation encoder; then
/// the ICC profile, if any, added by libwebp's muxer (in an `ICCP` chunk).
fn encode_webp(frames: &[Frame], s: &Settings<'_>, deadline: Deadline) -> Result<Vec<u8>> {
    let bytes = match frames {
        [still] => webp_encode::encode_still(&still.image, s.quality, s.lossless, deadline)?,
        frames => webp_encode::encode_animation(frames, s.quality, s.lossless, deadline)?,
    };
    match s.icc {
        Some(icc) => crate::webp_mux::with_icc(&bytes, icc),
        None => Ok(bytes),
    }
}

fn encode_png(img: &DynamicImage, s: &Settings<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // Fast zlib: PNG outputs here are thumbnails, where a few % of size costs a lot of time.
    let mut enc =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    if let Some(icc) = s.icc {
        // An ICC profile the encoder refuses is dropped, not fatal.
        let _ = enc.set_icc_profile(icc.to_vec());
    }
    enc.write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        img.color().into(),
    )
    .map_err(|e| fail(Format::Png, e))?;
    Ok(out)
}

/// Frame by frame, polling the deadline in between (each is quantised to its own palette).
fn encode_gif(frames: &[Frame], deadline: Deadline) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(Cursor::new(&mut out), 10);
        if frames.len() > 1 {
            enc.set_repeat(Repeat::Infinite)
                .map_err(|e| fail(Format::Gif, e))?;
        }
        for f in frames {
            deadline.check()?;
            let frame = image::Frame::from_parts(
                f.image.to_rgba8(),
                0,
                0,
                Delay::from_numer_denom_ms(f.delay_ms, 1),
            );
            enc.encode_frame(frame).map_err(|e| fail(Format::Gif, e))?;
        }
    }
    Ok(out)
}

/// The largest quality ≤ `max_quality` whose output fits in `limit` bytes (binary search);
/// quality 1 if none does.
pub fn encode_within(
    frames: &[Frame],
    format: Format,
    s: &Settings<'_>,
    limit: u64,
    deadline: Deadline,
) -> Result<(Vec<u8>, u8)> {
    let first = encode(frames, format, s, deadline)?;
    if first.len() as u64 <= limit || !format.is_lossy() || s.lossless {
        return Ok((first, s.quality));
    }
    let (mut lo, mut hi) = (1u8, s.quality.saturating_sub(1).max(1));
    let mut best: Option<(Vec<u8>, u8)> = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let bytes = encode(
            frames,
            format,
            &Settings {
                quality: mid,
                ..s.clone()
            },
            deadline,
        )?;
        if bytes.len() as u64 <= limit {
            best = Some((bytes, mid));
            lo = mid + 1;
        } else if mid == 1 {
            break;
        } else {
            hi = mid - 1;
        }
    }
    match best {
        Some(b) => Ok(b),
        None => Ok((
            encode(
                frames,
                format,
                &Settings {
                    quality: 1,
                    ..s.clone()
                },
                deadline,
            )?,
            1,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Frames;

    /// One-pixel red and blue stripes: their chroma must come out as the stripes' mean
    /// (purple), not as whichever stripe a 2×2 block starts with.
    #[test]
    fn subsampled_chroma_is_the_mean_of_each_block() {
        let img = image::RgbImage::from_fn(64, 64, |x, _| {
            if x % 2 == 0 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let frames = [Frame {
            image: DynamicImage::ImageRgb8(img),
            delay_ms: 0,
        }];
        // Below 90 the encoder subsamples chroma (4:2:0), as every quality picops defaults to.
        let settings = Settings {
            quality: 80,
            lossless: false,
            interlace: false,
            icc: None,
            exif: None,
        };
        let jpeg = encode(&frames, Format::Jpeg, &settings, Deadline::NONE).expect("encoded");
        let decoded = crate::decode::decode(&jpeg, &crate::Limits::default(), Frames::First)
            .expect("decoded");
        let (red, _, blue) = ops::average(&decoded.frames[0].image);
        // The mean of the stripes is (127, 0, 127); top-left sampling gives every block the
        // red stripe's chroma instead: red ≈ 230, blue ≈ 0.
        assert!(
            red.abs_diff(127) < 25 && blue.abs_diff(127) < 25,
            "mean red {red}, mean blue {blue}"
        );
    }
}
