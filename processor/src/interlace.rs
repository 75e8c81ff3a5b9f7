//! `interlace/1` for PNG and GIF outputs: an Adam7-interlaced PNG and a GIF whose frames
//! are written in GIF's four-pass row order.
//!
//! Neither crate interlaces by itself: the `png` crate writes the interlace flag of its
//! `Info` into IHDR but always encodes the rows in order, and the `gif` crate sets the
//! interlace flag of a frame but writes its buffer as given. So the passes are laid out
//! here: for PNG, each Adam7 pass is cut out of the picture, filtered (adaptive, as the
//! non-interlaced encoder does) and deflated with the same fast `fdeflate` coder, then the
//! `png` crate writes the chunks around it (IHDR, iCCP, IDAT, IEND); for GIF, the frame is
//! quantised exactly as `image`'s `GifEncoder` does, then its rows are reordered.

use std::borrow::Cow;
use std::io::Cursor;

use image::DynamicImage;

use crate::deadline::Deadline;
use crate::decode::Frame;
use crate::error::{ProcessError, Result};
use crate::format::Format;

/// Adam7: (first column, first row, column step, row step) of each of the seven passes.
const ADAM7: [(usize, usize, usize, usize); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// Largest IDAT chunk written; the zlib stream is split across as many as it needs.
const IDAT_CHUNK: usize = 1 << 20;

fn fail(format: Format, e: impl std::fmt::Display) -> ProcessError {
    ProcessError::Encode(format!("{} (interlaced): {e}", format.name()))
}

/// An Adam7-interlaced 8-bit PNG of `img` (grey, grey and alpha, RGB or RGBA, as its
/// layout), with `icc` as its iCCP chunk. The deadline is polled between passes.
pub(crate) fn png(img: &DynamicImage, icc: Option<&[u8]>, deadline: Deadline) -> Result<Vec<u8>> {
    let img = match img {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => Cow::Borrowed(img),
        other => Cow::Owned(crate::decode::normalise(other.clone())),
    };
    let (color, bpp) = match img.as_ref() {
        DynamicImage::ImageLuma8(_) => (png::ColorType::Grayscale, 1),
        DynamicImage::ImageLumaA8(_) => (png::ColorType::GrayscaleAlpha, 2),
        DynamicImage::ImageRgb8(_) => (png::ColorType::Rgb, 3),
        _ => (png::ColorType::Rgba, 4),
    };
    let (w, h) = (img.width(), img.height());
    let idat = adam7_zlib(img.as_bytes(), w as usize, h as usize, bpp, deadline)?;
    let mut info = png::Info::with_size(w, h);
    info.color_type = color;
    info.bit_depth = png::BitDepth::Eight;
    info.interlaced = true;
    info.icc_profile = icc.map(Cow::Borrowed);
    let mut out = Vec::with_capacity(idat.len() + icc.map_or(0, <[u8]>::len) + 1024);
    {
        let encoder = png::Encoder::with_info(&mut out, info).map_err(|e| fail(Format::Png, e))?;
        let mut writer = encoder.write_header().map_err(|e| fail(Format::Png, e))?;
        for piece in idat.chunks(IDAT_CHUNK) {
            writer
                .write_chunk(png::chunk::IDAT, piece)
                .map_err(|e| fail(Format::Png, e))?;
        }
        writer.finish().map_err(|e| fail(Format::Png, e))?;
    }
    Ok(out)
}

/// Columns and rows of an Adam7 pass over a `w`×`h` picture (either may be 0: the pass is
/// then absent from the file).
fn pass_size(pass: (usize, usize, usize, usize), w: usize, h: usize) -> (usize, usize) {
    let (x0, y0, dx, dy) = pass;
    (
        w.saturating_sub(x0).div_ceil(dx),
        h.saturating_sub(y0).div_ceil(dy),
    )
}

/// The zlib stream of the seven passes' filtered rows (rows of `w` pixels of `bpp` bytes).
/// Stored blocks instead when deflate did not shrink it, as the `png` crate does.
fn adam7_zlib(data: &[u8], w: usize, h: usize, bpp: usize, deadline: Deadline) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| fail(Format::Png, e);
    let mut z = fdeflate::Compressor::new(Vec::new()).map_err(io)?;
    let mut raw = 0usize;
    each_pass_row(data, w, h, bpp, deadline, true, |line| {
        raw += line.len();
        z.write_data(line)
    })?;
    let deflated = z.finish().map_err(io)?;
    if deflated.len() <= fdeflate::StoredOnlyCompressor::<()>::compressed_size(raw) {
        return Ok(deflated);
    }
    drop(deflated);
    let mut stored = fdeflate::StoredOnlyCompressor::new(Cursor::new(Vec::new())).map_err(io)?;
    each_pass_row(data, w, h, bpp, deadline, false, |line| {
        stored.write_data(line)
    })?;
    Ok(stored.finish().map_err(io)?.into_inner())
}

/// Hand `sink` every row of every Adam7 pass, in file order, with its filter byte in front:
/// adaptively filtered when `filtered`, else filter 0 (none).
fn each_pass_row(
    data: &[u8],
    w: usize,
    h: usize,
    bpp: usize,
    deadline: Deadline,
    filtered: bool,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<()> {
    let stride = w * bpp;
    let (mut prev, mut cur) = (Vec::new(), Vec::new());
    let (mut best, mut trial) = (Vec::new(), Vec::new());
    for pass in ADAM7 {
        deadline.check()?;
        let (x0, y0, dx, dy) = pass;
        let (pw, ph) = pass_size(pass, w, h);
        if pw == 0 || ph == 0 {
            continue;
        }
        // The row above the first row of a pass is zeros.
        prev.clear();
        prev.resize(pw * bpp, 0);
        cur.resize(pw * bpp, 0);
        for y in (y0..h).step_by(dy) {
            let src = &data[y * stride..(y + 1) * stride];
            for (px, x) in cur.chunks_exact_mut(bpp).zip((x0..w).step_by(dx)) {
                px.copy_from_slice(&src[x * bpp..(x + 1) * bpp]);
            }
            let line = if filtered {
                filter_row(&cur, &prev, bpp, &mut best, &mut trial)
            } else {
                best.clear();
                best.push(0);
                best.extend_from_slice(&cur);
                &best[..]
            };
            sink(line).map_err(|e| fail(Format::Png, e))?;
            std::mem::swap(&mut prev, &mut cur);
        }
    }
    Ok(())
}

/// `cur` filtered with whichever of PNG's five filters gives the smallest sum of absolute
/// (signed) bytes, libpng's heuristic; the filter type byte first.
fn filter_row<'a>(
    cur: &[u8],
    prev: &[u8],
    bpp: usize,
    best: &'a mut Vec<u8>,
    trial: &mut Vec<u8>,
) -> &'a [u8] {
    let mut best_score = u64::MAX;
    for kind in 0u8..5 {
        trial.clear();
        trial.push(kind);
        for (i, (&x, &b)) in cur.iter().zip(prev).enumerate() {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let c = if i >= bpp { prev[i - bpp] } else { 0 };
            let predicted = match kind {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                _ => paeth(a, b, c),
            };
            trial.push(x.wrapping_sub(predicted));
        }
        let score: u64 = trial[1..]
            .iter()
            .map(|&v| u64::from((v as i8).unsigned_abs()))
            .sum();
        if score < best_score {
            best_score = score;
            std::mem::swap(best, trial);
        }
    }
    &best[..]
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// An interlaced GIF of `frames`: each frame quantised as `image`'s `GifEncoder` does
/// (`gif`'s NeuQuant at speed 10, its own palette, disposal to background, delays in
/// hundredths), then written with the interlace flag and its rows in GIF's pass order.
pub(crate) fn gif(frames: &[Frame], deadline: Deadline) -> Result<Vec<u8>> {
    let dims = |img: &DynamicImage| match (u16::try_from(img.width()), u16::try_from(img.height()))
    {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(ProcessError::InvalidArgument(format!(
            "{}x{} is too large for GIF",
            img.width(),
            img.height()
        ))),
    };
    let first = frames
        .first()
        .ok_or_else(|| ProcessError::Encode("no frame to encode".into()))?;
    let (w, h) = dims(&first.image)?;
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w, h, &[]).map_err(|e| fail(Format::Gif, e))?;
        if frames.len() > 1 {
            enc.set_repeat(gif::Repeat::Infinite)
                .map_err(|e| fail(Format::Gif, e))?;
        }
        for f in frames {
            deadline.check()?;
            let (fw, fh) = dims(&f.image)?;
            let mut rgba = f.image.to_rgba8();
            let mut frame = gif::Frame::from_rgba_speed(fw, fh, &mut rgba, 10);
            drop(rgba);
            frame.delay = (f.delay_ms / 10).try_into().unwrap_or(u16::MAX);
            frame.dispose = gif::DisposalMethod::Background;
            frame.buffer = Cow::Owned(gif_pass_order(&frame.buffer, usize::from(fw)));
            frame.interlaced = true;
            enc.write_frame(&frame).map_err(|e| fail(Format::Gif, e))?;
        }
    }
    Ok(out)
}

/// GIF's interlaced row order: every 8th row from 0, every 8th from 4, every 4th from 2,
/// every 2nd from 1.
fn gif_rows(h: usize) -> impl Iterator<Item = usize> {
    (0..h)
        .step_by(8)
        .chain((4..h).step_by(8))
        .chain((2..h).step_by(4))
        .chain((1..h).step_by(2))
}

/// The rows of `indices` (rows of `w`) in GIF's interlaced order.
fn gif_pass_order(indices: &[u8], w: usize) -> Vec<u8> {
    if w == 0 {
        return indices.to_vec();
    }
    let h = indices.len() / w;
    let mut out = Vec::with_capacity(indices.len());
    for y in gif_rows(h) {
        out.extend_from_slice(&indices[y * w..(y + 1) * w]);
    }
    out
}

#[cfg(test)]
#[path = "interlace_tests.rs"]
mod tests;
