//! Decoding: the header is read and checked against [`Limits`] first; only then are pixels
//! allocated. Every format lands in the same [`Decoded`]: 8-bit [`Frame`]s.

use std::io::Cursor;

use image::{AnimationDecoder, DynamicImage, ImageDecoder, RgbImage, RgbaImage};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::deadline::Deadline;
use crate::error::{ProcessError, Result};
use crate::exif;
use crate::format::{find_jpeg_soi, Format};
use crate::jpeg_scaled;
use crate::limits::Limits;
use crate::quality;
use crate::webp_still;

pub use crate::source::Source;

/// One picture of an image; stills have exactly one.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: DynamicImage,
    pub delay_ms: u32,
}

/// A decoded image: its source facts and its frames.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub source: Source,
    pub frames: Vec<Frame>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frames {
    /// Only the first frame: enough for ImageInfo and for still outputs.
    First,
    /// Every frame, for GIF→GIF.
    All,
}

fn corrupt(what: impl std::fmt::Display) -> ProcessError {
    ProcessError::InvalidImageFormat(what.to_string())
}

fn sniff(data: &[u8]) -> Result<Format> {
    if data.is_empty() {
        return Err(corrupt("empty body"));
    }
    Format::sniff(data)
        .ok_or_else(|| corrupt("not a JPEG, PNG, WebP, GIF, BMP, HEIF or AVIF image"))
}

/// Read the header only and refuse what exceeds `limits`. Allocates no pixel buffer.
pub fn probe(data: &[u8], limits: &Limits) -> Result<Source> {
    let format = sniff(data)?;
    let source = match format {
        Format::Jpeg => probe_jpeg(data)?.0,
        Format::Png => {
            let mut d = image::codecs::png::PngDecoder::new(Cursor::new(data)).map_err(corrupt)?;
            let (width, height) = d.dimensions();
            let exif = d
                .exif_metadata()
                .ok()
                .flatten()
                .or_else(|| png_text_exif(data));
            let icc = d.icc_profile().ok().flatten();
            Source::lossless(format, width, height, exif, icc)
        }
        Format::Webp => {
            let mut d = image_webp::WebPDecoder::new(Cursor::new(data)).map_err(corrupt)?;
            let (width, height) = d.dimensions();
            let lossy = d.is_lossy();
            let exif = d.exif_metadata().ok().flatten();
            Source {
                format,
                width,
                height,
                frames: if d.is_animated() {
                    d.num_frames().max(1)
                } else {
                    1
                },
                quality: if lossy {
                    crate::webp_quality::estimate(data)
                } else {
                    Some(100)
                },
                orientation: exif.as_deref().map(exif::orientation).unwrap_or(0),
                icc: d.icc_profile().ok().flatten(),
                exif,
            }
        }
        Format::Gif => {
            // The logical screen size, read by hand: the decoder reads the first frame while
            // opening, which is exactly what must not happen before the check.
            let (width, height) = match data.get(6..10) {
                Some(b) => (
                    u32::from(u16::from_le_bytes([b[0], b[1]])),
                    u32::from(u16::from_le_bytes([b[2], b[3]])),
                ),
                None => return Err(corrupt("GIF header truncated")),
            };
            let mut pixels = 0;
            let mut frames = 0;
            for (fw, fh) in gif_frames(data) {
                // A frame larger than the screen is the classic GIF bomb: check it as declared.
                pixels = limits.check_frame(fw.max(width), fh.max(height), frames, pixels)?;
                frames += 1;
            }
            Source {
                frames: frames.max(1),
                ..Source::lossless(format, width, height, None, None)
            }
        }
        Format::Bmp => {
            let d = image::codecs::bmp::BmpDecoder::new(Cursor::new(data)).map_err(corrupt)?;
            let (width, height) = d.dimensions();
            Source::lossless(format, width, height, None, None)
        }
        Format::Heif | Format::Avif => crate::heif::probe(data, format, limits)?,
    };
    let mut pixels = 0;
    for i in 0..source.frames.min(limits.max_frames + 1) {
        pixels = limits.check_frame(source.width, source.height, i, pixels)?;
    }
    Ok(source)
}

/// EXIF that ImageMagick writes into PNG text chunks (`Raw profile type exif`: a header line,
/// a length, then hex) instead of an eXIf chunk.
fn png_text_exif(data: &[u8]) -> Option<Vec<u8>> {
    let reader = png::Decoder::new(Cursor::new(data)).read_info().ok()?;
    let info = reader.info();
    let raw = info
        .compressed_latin1_text
        .iter()
        .filter(|t| t.keyword == "Raw profile type exif")
        .find_map(|t| t.get_text().ok())
        .or_else(|| {
            info.uncompressed_latin1_text
                .iter()
                .find(|t| t.keyword == "Raw profile type exif")
                .map(|t| t.text.clone())
        })?;
    // "\nexif\n   <len>\n<hex…>": skip the two header lines, join the hex.
    let hex: String = raw
        .trim_start()
        .lines()
        .skip(2)
        .flat_map(|l| l.trim().chars())
        .collect();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    (!bytes.is_empty()).then_some(bytes)
}

fn jpeg_options() -> DecoderOptions {
    // zune-jpeg's own caps are lower than ours (16384): widen them, our Limits decide.
    DecoderOptions::default()
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        .set_strict_mode(false)
}

fn probe_jpeg(data: &[u8]) -> Result<(Source, usize, ColorSpace)> {
    let soi = find_jpeg_soi(data).ok_or_else(|| corrupt("no JPEG start marker"))?;
    let body = &data[soi..];
    let mut d = JpegDecoder::new_with_options(ZCursor::new(body), jpeg_options());
    d.decode_headers()
        .map_err(|e| corrupt(format!("JPEG: {e:?}")))?;
    let info = d.info().ok_or_else(|| corrupt("JPEG header unreadable"))?;
    let exif = d.exif().cloned();
    let colorspace = d.input_colorspace().unwrap_or(ColorSpace::RGB);
    let source = Source {
        format: Format::Jpeg,
        width: u32::from(info.width),
        height: u32::from(info.height),
        frames: 1,
        quality: quality::estimate(body),
        orientation: exif.as_deref().map(exif::orientation).unwrap_or(0),
        icc: d.icc_profile(),
        exif,
    };
    Ok((source, soi, colorspace))
}

/// Decode `data` after checking its header against `limits`.
pub fn decode(data: &[u8], limits: &Limits, frames: Frames) -> Result<Decoded> {
    decode_at_least(data, limits, frames, None)
}

/// As [`decode`], but a JPEG may be decoded smaller (1/2, 1/4 or 1/8, in the DCT domain, as
/// libjpeg's `scale_denom` and libvips' shrink-on-load do), and a still WebP too (libwebp's
/// rescaler), as long as both sides stay at least `min_size`. The frames may then be
/// smaller than `source.width`×`source.height`.
pub fn decode_at_least(
    data: &[u8],
    limits: &Limits,
    frames: Frames,
    min_size: Option<(u32, u32)>,
) -> Result<Decoded> {
    decode_probed(data, probe(data, limits)?, limits, frames, min_size)
}

/// [`decode_at_least`] for a `source` already [`probe`]d (and so checked against `limits`).
pub fn decode_probed(
    data: &[u8],
    source: Source,
    limits: &Limits,
    frames: Frames,
    min_size: Option<(u32, u32)>,
) -> Result<Decoded> {
    decode_probed_within(data, source, limits, frames, min_size, Deadline::NONE)
}

/// [`decode_probed`], stopping between the frames of an animation once `deadline` passes.
pub(crate) fn decode_probed_within(
    data: &[u8],
    mut source: Source,
    limits: &Limits,
    frames: Frames,
    min_size: Option<(u32, u32)>,
    deadline: Deadline,
) -> Result<Decoded> {
    let denom = min_size.map_or(1, |(mw, mh)| {
        shrink_denominator(source.width, source.height, mw, mh)
    });
    let frames = match source.format {
        Format::Jpeg => {
            // zune-jpeg pads a truncated scan with grey; a service storing that would be
            // storing a broken picture, so truncation is an error on every JPEG path.
            let soi = find_jpeg_soi(data)
                .filter(|&soi| has_end_of_image(&data[soi..]))
                .ok_or_else(|| {
                    corrupt("JPEG is truncated (no end-of-image marker after the scan)")
                })?;
            if denom > 1 {
                let image = match jpeg_scaled::decode(&data[soi..], denom) {
                    Some(image) => image,
                    None => decode_jpeg_scaled(&data[soi..], &source, denom)?,
                };
                vec![still(image)]
            } else if jpeg_scaled::has_scan_per_component(&data[soi..]) {
                vec![still(decode_jpeg_scaled(&data[soi..], &source, 1)?)]
            } else {
                vec![still(decode_jpeg(data)?)]
            }
        }
        Format::Png => {
            let d = image::codecs::png::PngDecoder::new(Cursor::new(data)).map_err(corrupt)?;
            vec![still(normalise(
                DynamicImage::from_decoder(d).map_err(corrupt)?,
            ))]
        }
        Format::Bmp => {
            let d = image::codecs::bmp::BmpDecoder::new(Cursor::new(data)).map_err(corrupt)?;
            vec![still(normalise(
                DynamicImage::from_decoder(d).map_err(corrupt)?,
            ))]
        }
        Format::Gif => decode_gif(data, limits, frames, &mut source, deadline)?,
        // The primary image only: an image sequence (`avis`, `msf1`) is read as its still.
        Format::Heif | Format::Avif => vec![still(crate::heif::decode(
            data,
            source.format,
            (source.width, source.height),
        )?)],
        // libwebp for a still picture: about twice image-webp's speed here, and it can
        // shrink on load (its in-loop rescaler, as libvips uses it).
        Format::Webp => match webp_still::decode(data, denom)? {
            Some(image) => vec![still(image)],
            None => decode_webp(data, frames, deadline)?,
        },
    };
    Ok(Decoded { source, frames })
}

fn still(image: DynamicImage) -> Frame {
    Frame { image, delay_ms: 0 }
}

/// The largest of 1, 2, 4, 8 that keeps a `w`×`h` image at least `mw`×`mh`.
pub fn shrink_denominator(w: u32, h: u32, mw: u32, mh: u32) -> u32 {
    [8, 4, 2]
        .into_iter()
        .find(|&d| w / d >= mw.max(1) && h / d >= mh.max(1))
        .unwrap_or(1)
}

/// jpeg-decoder, for what the other two decoders get wrong or lack: shrink-on-load of what
/// [`jpeg_scaled`] does not cover (its scaled IDCT; zune-jpeg has none), and the full-size
/// decode (`denom` 1) of sequential files with a scan per component, which zune-jpeg
/// decodes with wrong colours. CMYK and 16-bit inputs take zune-jpeg's full-size path,
/// where colour conversion is already right. `jpeg` starts at its SOI.
fn decode_jpeg_scaled(jpeg: &[u8], source: &Source, denom: u32) -> Result<DynamicImage> {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    d.read_info().map_err(|e| corrupt(format!("JPEG: {e}")))?;
    let info = d.info().ok_or_else(|| corrupt("JPEG header unreadable"))?;
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8
    ) {
        return decode_jpeg(jpeg);
    }
    let want = |side: u32| u16::try_from(side.div_ceil(denom)).unwrap_or(u16::MAX);
    let (w, h) = d
        .scale(want(source.width), want(source.height))
        .map_err(|e| corrupt(format!("JPEG: {e}")))?;
    let pixels = d.decode().map_err(|e| corrupt(format!("JPEG: {e}")))?;
    let (w, h) = (u32::from(w), u32::from(h));
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
        }
        _ => RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
    };
    image.ok_or_else(|| corrupt("JPEG decoded to a short buffer"))
}

fn decode_jpeg(data: &[u8]) -> Result<DynamicImage> {
    let (source, soi, colorspace) = probe_jpeg(data)?;
    let grey = colorspace == ColorSpace::Luma;
    let out = if grey {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    let mut d = JpegDecoder::new_with_options(
        ZCursor::new(&data[soi..]),
        jpeg_options().jpeg_set_out_colorspace(out),
    );
    let pixels = d.decode().map_err(|e| corrupt(format!("JPEG: {e:?}")))?;
    let (w, h) = (source.width, source.height);
    let image = if grey {
        image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| corrupt("JPEG decoded to a short buffer"))
}

/// The largest width and height among the frames a GIF declares: the decoder reads each
/// frame into a buffer of its declared size, which may exceed the screen.
pub(crate) fn gif_largest_frame(data: &[u8]) -> (u32, u32) {
    gif_frames(data)
        .into_iter()
        .fold((0, 0), |(w, h), (fw, fh)| (w.max(fw), h.max(fh)))
}

/// Sizes of the frames a GIF declares, found by walking its blocks without decompressing.
/// Stops quietly at the first malformed block; the decoder reports that later.
fn gif_frames(data: &[u8]) -> Vec<(u32, u32)> {
    let mut frames = Vec::new();
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3usize << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let Some(&lsd_flags) = data.get(10) else {
        return frames;
    };
    let mut i = 13 + table(lsd_flags);
    let skip_sub_blocks = |mut i: usize| -> Option<usize> {
        loop {
            let len = usize::from(*data.get(i)?);
            i += 1;
            if len == 0 {
                return Some(i);
            }
            i += len;
        }
    };
    while let Some(&block) = data.get(i) {
        match block {
            0x21 => match skip_sub_blocks(i + 2) {
                Some(next) => i = next,
                None => break,
            },
            0x2C => {
                let Some(d) = data.get(i + 1..i + 10) else {
                    break;
                };
                let w = u32::from(u16::from_le_bytes([d[4], d[5]]));
                let h = u32::from(u16::from_le_bytes([d[6], d[7]]));
                frames.push((w, h));
                // Descriptor, local colour table, LZW code size byte, then the data blocks.
                match skip_sub_blocks(i + 10 + table(d[8]) + 1) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            _ => break,
        }
    }
    frames
}

/// Whether an EOI marker follows the first scan. Inside entropy-coded data 0xFF is always
/// stuffed or a restart marker, so the first FFD9 after SOS is the image's own end.
fn has_end_of_image(jpeg: &[u8]) -> bool {
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]);
    // From the end: the marker sits in the last bytes of a sound file, so this reads a few
    // bytes instead of the whole scan.
    let eoi = jpeg.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    matches!((sos, eoi), (Some(sos), Some(eoi)) if eoi > sos)
}

fn decode_gif(
    data: &[u8],
    limits: &Limits,
    want: Frames,
    source: &mut Source,
    deadline: Deadline,
) -> Result<Vec<Frame>> {
    let d = image::codecs::gif::GifDecoder::new(Cursor::new(data)).map_err(corrupt)?;
    let (w, h) = d.dimensions();
    let mut out = Vec::new();
    let mut pixels = 0;
    for frame in d.into_frames() {
        deadline.check()?;
        // Each frame is a full canvas; counting as we go bounds the work to the limits.
        pixels = limits.check_frame(w, h, out.len() as u32, pixels)?;
        let frame = frame.map_err(corrupt)?;
        let (num, den) = frame.delay().numer_denom_ms();
        out.push(Frame {
            delay_ms: num.checked_div(den).unwrap_or(0),
            image: DynamicImage::ImageRgba8(frame.into_buffer()),
        });
        if want == Frames::First {
            break;
        }
    }
    if out.is_empty() {
        return Err(corrupt("GIF has no frames"));
    }
    if want == Frames::All {
        source.frames = out.len() as u32;
    }
    Ok(out)
}

fn decode_webp(data: &[u8], want: Frames, deadline: Deadline) -> Result<Vec<Frame>> {
    let mut d = image_webp::WebPDecoder::new(Cursor::new(data)).map_err(corrupt)?;
    let (w, h) = d.dimensions();
    let alpha = d.has_alpha();
    let size = d
        .output_buffer_size()
        .ok_or_else(|| corrupt("WebP size overflows"))?;
    let to_image = |buf: Vec<u8>| -> Result<DynamicImage> {
        let img = if alpha {
            RgbaImage::from_raw(w, h, buf).map(DynamicImage::ImageRgba8)
        } else {
            RgbImage::from_raw(w, h, buf).map(DynamicImage::ImageRgb8)
        };
        img.ok_or_else(|| corrupt("WebP decoded to a short buffer"))
    };
    if !d.is_animated() {
        let mut buf = vec![0; size];
        d.read_image(&mut buf).map_err(corrupt)?;
        return Ok(vec![still(to_image(buf)?)]);
    }
    let count = if want == Frames::All {
        d.num_frames()
    } else {
        1
    };
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        deadline.check()?;
        let mut buf = vec![0; size];
        let delay_ms = d.read_frame(&mut buf).map_err(corrupt)?;
        out.push(Frame {
            image: to_image(buf)?,
            delay_ms,
        });
    }
    Ok(out)
}

/// 8 bits per channel in one of L, LA, RGB, RGBA: the four layouts every step handles.
pub(crate) fn normalise(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => img,
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(img.to_luma8()),
        DynamicImage::ImageLumaA16(_) => DynamicImage::ImageLumaA8(img.to_luma_alpha8()),
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4:2:0 JPEG of a red top half and a blue bottom half, from jpeg-encoder: with
    /// `optimised` tables it codes one scan per component, otherwise one interleaved scan.
    fn halves_jpeg(optimised: bool) -> (RgbImage, Vec<u8>) {
        let img = RgbImage::from_fn(96, 64, |_, y| {
            if y < 32 {
                image::Rgb([220, 30, 30])
            } else {
                image::Rgb([30, 30, 220])
            }
        });
        let mut jpeg = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut jpeg, 80);
        enc.set_optimized_huffman_tables(optimised);
        enc.encode(img.as_raw(), 96, 64, jpeg_encoder::ColorType::Rgb)
            .expect("encoded");
        (img, jpeg)
    }

    #[test]
    fn a_scan_per_component_decodes_to_the_right_colours() {
        for optimised in [true, false] {
            let (img, jpeg) = halves_jpeg(optimised);
            assert_eq!(jpeg_scaled::has_scan_per_component(&jpeg), optimised);
            for min_size in [None, Some((48, 32))] {
                let d = decode_at_least(&jpeg, &Limits::default(), Frames::First, min_size)
                    .expect("decoded");
                let got = d.frames[0].image.to_rgb8();
                let want = image::imageops::resize(
                    &img,
                    got.width(),
                    got.height(),
                    image::imageops::FilterType::Triangle,
                );
                // Every row, the last MCU row too (zune-jpeg got those wrong): no pixel far
                // from the source, away from the edge between the halves.
                for (y, (a, b)) in got.rows().zip(want.rows()).enumerate() {
                    let edge = got.height() / 2;
                    if y as u32 + 3 >= edge && y as u32 <= edge + 2 {
                        continue;
                    }
                    for (p, q) in a.zip(b) {
                        let off = (0..3).map(|c| p.0[c].abs_diff(q.0[c])).max().unwrap_or(0);
                        assert!(
                            off < 40,
                            "optimised {optimised}, {min_size:?}: row {y} is {p:?}, not {q:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shrink_keeps_both_sides_at_least_the_target() {
        assert_eq!(shrink_denominator(5120, 2880, 1000, 563), 4);
        assert_eq!(shrink_denominator(5120, 2880, 640, 360), 8);
        assert_eq!(shrink_denominator(5120, 2880, 641, 100), 4);
        assert_eq!(shrink_denominator(2560, 1600, 1280, 800), 2);
        assert_eq!(shrink_denominator(2560, 1600, 1281, 10), 1);
        assert_eq!(shrink_denominator(100, 100, 0, 0), 8);
    }
}
