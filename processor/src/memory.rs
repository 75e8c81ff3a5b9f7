//! Upper bounds of the memory processing allocates, from sizes alone, so that a server can
//! admit or refuse a job before it allocates anything (see [`crate::Plan::memory_bytes`]).
//!
//! Every pixel buffer is counted at 4 bytes a pixel (RGBA, the widest layout any step
//! holds), and every step at the most it can allocate for one frame: its result and its
//! scratch buffers. Encoders are counted with their worst output (incompressible noise);
//! the untouched capacity of a grown `Vec` costs address space, not memory, so output
//! buffers count at their length.

use std::io::Cursor;

use image::ImageDecoder;

use crate::decode::{self, Frames, Source};
use crate::error::{ProcessError, Result};
use crate::format::Format;
use crate::resize;

/// Bytes of a `w`×`h` picture at 4 bytes a pixel. Saturating, as is all arithmetic here:
/// the dry run also sizes what a rule asks for beyond the limits (see [`Meter::refuse`]).
pub(crate) fn rgba(w: u32, h: u32) -> u64 {
    pixels(w, h).saturating_mul(4)
}

fn pixels(w: u32, h: u32) -> u64 {
    u64::from(w).saturating_mul(u64::from(h))
}

/// What a rule holds as its steps run: its frames (none of its own while it still reads the
/// shared decode), what it keeps beside them (a watermark's mark), and the peak so far.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    frames: u64,
    size: (u32, u32),
    owned: bool,
    beside: u64,
    peak: u64,
    /// Go past a refused output size (counting it) rather than stop there.
    go_on: bool,
    /// The first output size refused by the limits.
    refusal: Option<ProcessError>,
}

impl Meter {
    /// `frames` frames of `size`, borrowed from the decode.
    pub(crate) fn new(frames: usize, size: (u32, u32)) -> Meter {
        Meter {
            frames: frames as u64,
            size,
            owned: false,
            beside: 0,
            peak: 0,
            go_on: true,
            refusal: None,
        }
    }

    /// Stop at a refused output size, as a rule with `ignore-error` does (it then answers
    /// with its input, so nothing after the refusal is allocated).
    pub(crate) fn stop_at_refusals(&mut self) {
        self.go_on = false;
    }

    /// The limits refused an output size. The run stops there; unless told otherwise, the
    /// dry run goes on to count what the rule asks for, so that the estimate alone shows a
    /// request that could never fit in memory (and the refusal says why).
    pub(crate) fn refuse(&mut self, e: ProcessError) -> Result<()> {
        if !self.go_on {
            return Err(e);
        }
        self.refusal.get_or_insert(e);
        Ok(())
    }

    pub(crate) fn refusal(&self) -> Option<&ProcessError> {
        self.refusal.as_ref()
    }

    pub(crate) fn size(&self) -> (u32, u32) {
        self.size
    }

    pub(crate) fn frames(&self) -> usize {
        self.frames as usize
    }

    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    /// The rule's own frames.
    fn held(&self) -> u64 {
        if self.owned {
            self.frames.saturating_mul(rgba(self.size.0, self.size.1))
        } else {
            0
        }
    }

    /// The frames were copied out of the decode (`cgif` sampling them): the rule holds
    /// them from the start.
    pub(crate) fn copied(&mut self) {
        self.owned = true;
        self.record(self.held().saturating_add(self.beside));
    }

    /// A step that turns every frame, one after the other, into a frame of `to`, allocating
    /// at most `bytes` for the frame at hand (its result included).
    pub(crate) fn step(&mut self, to: (u32, u32), bytes: u64) {
        let (from, into) = (rgba(self.size.0, self.size.1), rgba(to.0, to.1));
        let others = self.frames.saturating_sub(1);
        // The frames already done hold the new size, the rest the old one; the frame at hand
        // is still held in its old size while its result is made.
        let frames = if self.owned {
            others.saturating_mul(from.max(into)).saturating_add(from)
        } else {
            others.saturating_mul(into)
        };
        self.record(frames.saturating_add(bytes).saturating_add(self.beside));
        self.size = to;
        self.owned = true;
    }

    /// Work that allocates `bytes` on top of everything held, then frees them.
    pub(crate) fn spike(&mut self, bytes: u64) {
        self.record(
            self.held()
                .saturating_add(self.beside)
                .saturating_add(bytes),
        );
    }

    /// Keep `bytes` beside the frames until [`Meter::release`].
    pub(crate) fn keep(&mut self, bytes: u64) {
        self.beside = self.beside.saturating_add(bytes);
        self.record(self.held().saturating_add(self.beside));
    }

    pub(crate) fn release(&mut self, bytes: u64) {
        self.beside = self.beside.saturating_sub(bytes);
    }

    fn record(&mut self, bytes: u64) {
        self.peak = self.peak.max(bytes);
    }
}

/// Scratch rows of a blur: a row of u32 sums and a padded input row, and per tap of the
/// kernel (at most 331: `image`'s at sigma 50, for `sharpen`; `blur/<r>x<s>` has at most
/// 101) its weight, a slice of the row, and 4 samples of padding at each end.
pub(crate) fn blur_rows(w: u32) -> u64 {
    sum(&[rgba(w, 1).saturating_mul(8), 331 * (4 + 16 + 8)])
}

/// A resize from `from` to `to`: the premultiplied copy of the source, the result, the
/// vertical pass of one band, and the filter coefficients.
pub(crate) fn resize_bytes(from: (u32, u32), to: (u32, u32)) -> u64 {
    if from == to {
        return rgba(to.0, to.1);
    }
    let band = rgba(from.0, resize::band_rows(from, to));
    let sides = u64::from(from.0) + u64::from(from.1) + u64::from(to.0) + u64::from(to.1);
    sum(&[rgba(from.0, from.1), rgba(to.0, to.1), band, 64 * sides])
}

pub(crate) fn sum(parts: &[u64]) -> u64 {
    parts.iter().fold(0, |a, &b| a.saturating_add(b))
}

/// A rotation from `from` to `to`: right angles copy, other angles read an RGBA copy of
/// the source.
pub(crate) fn rotate_bytes(from: (u32, u32), to: (u32, u32), deg: f64) -> u64 {
    if deg.rem_euclid(90.0) == 0.0 {
        rgba(to.0, to.1)
    } else {
        sum(&[rgba(from.0, from.1), rgba(to.0, to.1)])
    }
}

/// Drawing a watermark on a frame of `size`: an RGBA copy, and an RGB one for opaque frames.
pub(crate) fn watermark_apply_bytes(size: (u32, u32)) -> u64 {
    2 * rgba(size.0, size.1)
}

/// Worst output sizes in bytes per pixel, as measured on noise (the least compressible
/// content): JPEG at quality 100 (no chroma subsampling there), WebP lossy at quality 100
/// and lossless with alpha, GIF's LZW (at most 12 bits a pixel, plus block lengths).
const JPEG_OUT: u64 = 6;
const WEBP_LOSSY_OUT: u64 = 3;
const WEBP_LOSSLESS_OUT: u64 = 5;
const GIF_OUT: u64 = 2;

/// Everything libwebp allocates to encode a picture, per pixel, its ARGB copy and its output
/// included, as measured on noise: YUV and alpha planes and the token buffer of the lossy
/// coder (whose alpha plane is itself coded lossless); hash chains and backward references
/// of the lossless coder. With a margin over the measurement, since photos need far less.
const WEBP_LOSSY: u64 = 40;
const WEBP_LOSSLESS: u64 = 40;

/// Codec state that does not grow with the picture (Huffman and LZW tables, zlib windows,
/// libwebp's per-picture structures), and the allocator's rounding around small buffers.
const CODEC_STATE: u64 = 1 << 20;

/// How the result is written, as far as memory goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoding {
    pub format: Format,
    pub lossless: bool,
    pub interlace: bool,
    /// `size-limit`: encoded again at lower qualities, keeping the first and best results.
    pub size_limit: bool,
    /// Bytes of the ICC profile written. WebP adds it through libwebp's muxer, which
    /// assembles a new file (output and profile) that is then copied out.
    pub icc: u64,
}

/// Bytes an encode allocates for `frames` frames of `size` (the frames themselves aside).
pub(crate) fn encode_bytes(e: Encoding, frames: usize, size: (u32, u32)) -> u64 {
    let (w, h) = size;
    let (px, frame) = (pixels(w, h), rgba(w, h));
    let n = frames.max(1) as u64;
    let per = |k: u64| px.saturating_mul(k);
    let (work, out) = match e.format {
        // A flattened or RGB copy; a progressive file keeps every block of every component
        // (a byte per sample and 64 coefficients of 2 bytes per 8×8 block).
        Format::Jpeg => {
            let padded = pixels(w.next_multiple_of(16), h.next_multiple_of(16));
            let blocks = if e.interlace {
                padded.saturating_mul(9)
            } else {
                rgba(w, 16).saturating_mul(3)
            };
            (sum(&[frame, blocks]), per(JPEG_OUT))
        }
        // The filtered rows deflated (up to half as large again), then stored when that grew;
        // both exist at once. Interlaced (Adam7), the same streams, built from the rows of a
        // pass (the row at hand, the one above, the filters' trial and best rows).
        Format::Png => {
            let raw = sum(&[frame, u64::from(h)]);
            let rows = if e.interlace { rgba(w, 8) } else { 0 };
            (sum(&[raw, raw / 2, raw, rows]), sum(&[raw, raw / 64, 1024]))
        }
        // A flattened copy; rows padded to 4 bytes.
        Format::Bmp => (frame, sum(&[frame, 4 * u64::from(h), 1024])),
        // Per frame, an RGBA copy, its palette indices (interlaced: and their rows reordered)
        // and LZW's buffer; all frames' output.
        Format::Gif => (
            sum(&[frame, px, if e.interlace { px } else { 0 }, per(GIF_OUT)]),
            per(GIF_OUT).saturating_mul(n),
        ),
        Format::Webp if n > 1 => webp_animation_bytes(e.lossless, n, size),
        // An RGB or RGBA copy for layouts libwebp does not import, and libwebp's encode.
        Format::Webp => {
            let (all, out) = webp_per_pixel(e.lossless);
            (sum(&[frame, per(all)]), per(out))
        }
        // Refused before anything is encoded (`encode::check_writable`).
        Format::Heif | Format::Avif => (0, 0),
    };
    // `size-limit` keeps the first encode and the best one beside the encode at hand.
    let kept = if e.size_limit {
        out.saturating_mul(2)
    } else {
        0
    };
    let muxed = if e.format == Format::Webp && e.icc > 0 {
        sum(&[out, e.icc]).saturating_mul(2)
    } else {
        0
    };
    sum(&[work, out, kept, muxed, CODEC_STATE])
}

/// libwebp's whole encode per pixel (output included), and its worst output per pixel.
fn webp_per_pixel(lossless: bool) -> (u64, u64) {
    if lossless {
        (WEBP_LOSSLESS, WEBP_LOSSLESS_OUT)
    } else {
        (WEBP_LOSSY, WEBP_LOSSY_OUT)
    }
}

/// An animation through libwebp: per frame an RGBA copy; the encoder's three canvases and
/// a frame's encode; encoded candidates (up to two a frame) cached, the assembled file, and
/// our copy of it.
fn webp_animation_bytes(lossless: bool, frames: u64, size: (u32, u32)) -> (u64, u64) {
    let (all, out) = webp_per_pixel(lossless);
    let px = pixels(size.0, size.1);
    let work = sum(&[
        rgba(size.0, size.1).saturating_mul(4),
        px.saturating_mul(all),
    ]);
    (work, px.saturating_mul(out).saturating_mul(4 * frames))
}

/// What a decode holds: its frames, and its peak (the frames plus the decoder's buffers).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DecodeBytes {
    pub frames: u64,
    pub peak: u64,
}

/// The decode of `data` (probed as `source`) for `frames`, at 1/`denom` of its size where
/// the format shrinks on load.
pub(crate) fn decode_bytes(
    data: &[u8],
    source: &Source,
    frames: Frames,
    denom: u32,
) -> DecodeBytes {
    let (w, h) = (source.width, source.height);
    let count = match frames {
        Frames::All => u64::from(source.frames.max(1)),
        Frames::First => 1,
    };
    let full = rgba(w, h);
    let (kept, extra) = match source.format {
        Format::Jpeg => {
            let (sw, sh) = (w.div_ceil(denom), h.div_ceil(denom));
            // Component planes at the decoded size (jpeg-decoder, the scaled decoder), and a
            // progressive file's coefficients at full size, 2 bytes each.
            let planes = rgba(sw, sh);
            let coefficients = crate::format::find_jpeg_soi(data)
                .and_then(|soi| crate::jpeg_scaled::progressive_components(&data[soi..]))
                .map_or(0, |c| pixels(w, h) * 2 * u64::from(c));
            (rgba(sw, sh), planes + coefficients)
        }
        // A 16-bit decode is converted to 8 bits beside itself.
        Format::Png => {
            let raw = png_bytes_per_pixel(data);
            let converted = if raw > 4 { raw * pixels(w, h) } else { 0 };
            (full, converted + 3 * u64::from(w) * raw.max(1))
        }
        Format::Bmp => (full, 0),
        // Each frame is composed on the previous one's canvas from a buffer the size the
        // frame declares (which may exceed the screen).
        Format::Gif => {
            let (fw, fh) = decode::gif_largest_frame(data);
            (count * full, full + rgba(fw.max(w), fh.max(h)))
        }
        Format::Webp => webp_decode_bytes(data, source, count, denom),
        Format::Heif | Format::Avif => (full, heif_decode_extra(data, w, h)),
    };
    DecodeBytes {
        frames: kept,
        peak: sum(&[kept, extra, CODEC_STATE]),
    }
}

/// libheif's decode beside the RGB(A) frame it ends in, per pixel: the codec's picture
/// (libde265's or dav1d's) and libheif's copy of it, each up to 3 samples a pixel (4:4:4),
/// then the colour conversion's intermediate RGB pictures at that depth, the 8-bit
/// interleaved result, and our copy of that. Samples take 2 bytes above 8 bits.
/// Measured peaks (RSS of `picops process` making a thumbnail, less its baseline) of
/// 5120×2880 files from heif-enc 1.15, in bytes a pixel: 8-bit 4:2:0 HEIC 6 and AVIF 8,
/// 8-bit 4:4:4 AVIF 13, 10-bit 4:4:4 HEIC 13, 12-bit 4:4:4 AVIF 26. This counts 20 in all
/// (frame included) at 8 bits and 32 above, whatever the chroma subsampling.
fn heif_decode_extra(data: &[u8], w: u32, h: u32) -> u64 {
    let sample = crate::heif::bytes_per_sample(data);
    rgba(w, h).saturating_mul(3 * sample + 1)
}

/// libwebp's still decode: the (shrunk) result, a lossless picture whole in ARGB, a lossy
/// one's full-size alpha plane. image-webp's animation decode: a canvas and a frame beside
/// the frames.
fn webp_decode_bytes(data: &[u8], source: &Source, count: u64, denom: u32) -> (u64, u64) {
    let (w, h) = (source.width, source.height);
    if !crate::webp_still::is_still(data) {
        return (count * rgba(w, h), 3 * rgba(w, h));
    }
    let out = rgba(w.div_ceil(denom), h.div_ceil(denom));
    let lossless = crate::webp_quality::is_lossless(data);
    let whole = if lossless { rgba(w, h) } else { pixels(w, h) };
    (out, whole + rgba(w, 64))
}

/// Bytes per pixel of a PNG's decode before it is brought to 8 bits (2 channels of 16
/// bits: 4), from its header; 4 when unreadable (the decode then fails early).
fn png_bytes_per_pixel(data: &[u8]) -> u64 {
    image::codecs::png::PngDecoder::new(Cursor::new(data))
        .map_or(4, |d| u64::from(d.color_type().bytes_per_pixel()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_on_owned_frames_counts_the_frame_at_hand_twice() {
        let mut m = Meter::new(3, (10, 10));
        // Borrowed: the other two results, and this step's allocation.
        m.step((20, 20), 1_000);
        assert_eq!(m.peak(), 2 * rgba(20, 20) + 1_000);
        // Owned: two frames at the larger size, the one at hand at its old size, the step.
        m.step((5, 5), 100);
        assert_eq!(m.peak(), 3 * rgba(20, 20) + 100);
        m.step((40, 40), 0);
        assert_eq!(m.peak(), 2 * rgba(40, 40) + rgba(5, 5));
        m.keep(7);
        m.spike(3);
        assert_eq!(m.peak(), 3 * rgba(40, 40) + 10);
    }

    #[test]
    fn outputs_count_every_frame() {
        let e = Encoding {
            format: Format::Gif,
            lossless: false,
            interlace: false,
            size_limit: false,
            icc: 0,
        };
        assert!(encode_bytes(e, 300, (100, 100)) >= 300 * GIF_OUT * 10_000);
    }

    #[test]
    fn interlacing_counts_its_pass_buffers() {
        for format in [Format::Png, Format::Gif] {
            let e = |interlace| Encoding {
                format,
                lossless: false,
                interlace,
                size_limit: false,
                icc: 0,
            };
            let (plain, interlaced) = (
                encode_bytes(e(false), 1, (1000, 1000)),
                encode_bytes(e(true), 1, (1000, 1000)),
            );
            // PNG: eight RGBA rows; GIF: a second plane of palette indices.
            let extra = if format == Format::Png {
                32_000
            } else {
                1_000_000
            };
            assert_eq!(interlaced - plain, extra, "{format:?}");
        }
    }

    #[test]
    fn a_webp_profile_counts_the_muxers_copies() {
        let e = |icc| Encoding {
            format: Format::Webp,
            lossless: false,
            interlace: false,
            size_limit: false,
            icc,
        };
        let (plain, tagged) = (
            encode_bytes(e(0), 1, (100, 100)),
            encode_bytes(e(50_000), 1, (100, 100)),
        );
        assert_eq!(tagged - plain, 2 * (WEBP_LOSSY_OUT * 10_000 + 50_000));
    }

    #[test]
    fn copied_frames_are_held_from_the_start() {
        let mut m = Meter::new(4, (10, 10));
        m.copied();
        assert_eq!(m.peak(), 4 * rgba(10, 10));
        // Owned: a step holds the others and the frame at hand beside its result.
        m.step((10, 10), rgba(10, 10));
        assert_eq!(m.peak(), 5 * rgba(10, 10));
    }
}
