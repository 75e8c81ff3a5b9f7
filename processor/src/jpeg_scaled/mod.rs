//! Shrink-on-load for baseline JPEG: decode at 1/2, 1/4 or 1/8 of the size in the DCT
//! domain, as libjpeg's `scale_denom` does for vipsthumbnail and Pillow's `draft`.
//!
//! Hand-written because it wins and no maintained crate does it at speed: zune-jpeg has no
//! scaled IDCT, and jpeg-decoder's scaled path dequantises and stores all 64 coefficients
//! of every block, runs its IDCT on helper threads and spends most of a thumbnail's time in
//! its Huffman loop (profile in benches/README.md). Here every block is still
//! entropy-decoded, because the bitstream leaves no choice, but only the n×n low-frequency
//! coefficients that an n-point IDCT needs are kept (n = 8 / denominator; 1/8 is DC only),
//! chroma is upsampled at the reduced size, and nothing full-size is ever allocated.
//!
//! It covers what cameras and phones write: baseline or extended Huffman, 8-bit, one scan
//! holding every component, 1 (grey) or 3 (YCbCr) components, sampling factors 1 or 2. For
//! anything else, or anything irregular in the stream, [`decode`] answers `None` and the
//! caller uses the general decoder, so a damaged file is judged the same way on every path.

use image::DynamicImage;

mod assemble;
mod bits;
mod header;
mod huffman;
mod idct;
mod progressive;

use assemble::assemble;
use bits::Bits;
use header::{be16, Header, Scan, ZIGZAG};
use huffman::{Huffman, SkipEntry, END_OF_BLOCK, FAST_BITS, FAST_MASK};
use idct::{Idct, Plane};

/// A zig-zag position whose value no slot keeps.
const UNUSED: u8 = u8::MAX;

/// Decodes `jpeg` (starting at its SOI) at 1/`denom` of its size (`denom` 2, 4 or 8),
/// rounding up as libjpeg does. `None` when the file is outside what this decoder covers.
pub(crate) fn decode(jpeg: &[u8], denom: u32) -> Option<DynamicImage> {
    let n = match denom {
        2 => 4,
        4 => 2,
        8 => 1,
        _ => return None,
    };
    if jpeg.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut header = Header::default();
    let mut pos = 2;
    let scan = header.read_to_scan(jpeg, &mut pos)??;
    let planes = if header.progressive {
        progressive::decode(&mut header, jpeg, scan, pos, n)?
    } else if scan
        .components
        .iter()
        .copied()
        .eq(0..header.components.len())
        && scan.spectrum() == (0, 63, 0, 0)
    {
        decode_scan(&header, jpeg.get(pos..)?, n)?
    } else {
        // Sequential with one scan per component: rare enough for the general decoder.
        return None;
    };
    let out_w = header.width.div_ceil(denom as usize);
    let out_h = header.height.div_ceil(denom as usize);
    Some(assemble(&header, &planes, out_w, out_h))
}

/// Whether `jpeg` (from its SOI) is a sequential JPEG coded one scan per component rather
/// than in one interleaved scan, as jpeg-encoder writes with optimised tables. Valid, but
/// zune-jpeg decodes such files with wrong colours (0.4: the last MCU row; 0.5: all of it).
pub(crate) fn has_scan_per_component(jpeg: &[u8]) -> bool {
    let mut header = Header::default();
    let mut pos = 2;
    match header.read_to_scan(jpeg, &mut pos) {
        Some(Some(scan)) => !header.progressive && scan.components.len() < header.components.len(),
        _ => false,
    }
}

/// For a progressive JPEG, its number of components (read from the frame header); `None`
/// for any other file.
pub(crate) fn progressive_components(jpeg: &[u8]) -> Option<u8> {
    let mut pos = 2;
    loop {
        while *jpeg.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *jpeg.get(pos)?;
        let len = usize::from(be16(jpeg, pos + 1)?);
        match marker {
            0xC2 => return jpeg.get(pos + 8).copied(),
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9 => {
                return None
            }
            _ => pos += 1 + len,
        }
    }
}

/// Which of the 64 zig-zag positions an n×n IDCT keeps, and where: slot `row * n + col`.
fn kept_slots(n: usize) -> ([u8; 64], usize) {
    let mut slots = [UNUSED; 64];
    let mut last = 0;
    for (k, &natural) in ZIGZAG.iter().enumerate() {
        let (row, col) = (usize::from(natural) / 8, usize::from(natural) % 8);
        if row < n && col < n {
            slots[k] = (row * n + col) as u8;
            last = k;
        }
    }
    (slots, last)
}

/// A sequential scan holding every component, decoded straight into reduced planes.
fn decode_scan(header: &Header, scan: &[u8], n: usize) -> Option<Vec<Plane>> {
    let (mcu_x, mcu_y) = header.mcus()?;
    let blocks: Vec<(usize, usize)> = header.components.iter().map(|c| (c.h, c.v)).collect();
    let mut planes = header.planes(n)?;
    let (slots, last_kept) = kept_slots(n);
    let idct = Idct::new(n);
    let tables: Vec<(&Huffman, &Huffman, [f32; 16])> = header
        .components
        .iter()
        .map(|c| {
            Some((
                header.dc.get(c.dc_table)?.as_ref()?,
                header.ac.get(c.ac_table)?.as_ref()?,
                header.dequant(c, n)?,
            ))
        })
        .collect::<Option<_>>()?;
    let mut bits = Bits::new(scan);
    let mut predictions = vec![0i32; header.components.len()];
    let mut coefficients = [0i32; 16];
    let mut mcu = 0usize;
    for my in 0..mcu_y {
        for mx in 0..mcu_x {
            if header.restart_interval > 0 && mcu > 0 && mcu.is_multiple_of(header.restart_interval)
            {
                bits.restart()?;
                predictions.fill(0);
            }
            mcu += 1;
            for (c, &(h, v)) in blocks.iter().enumerate() {
                let (dc, ac, dequant) = &tables[c];
                for by in 0..v {
                    for bx in 0..h {
                        coefficients[..n * n].fill(0);
                        decode_block(
                            &mut bits,
                            dc,
                            ac,
                            &mut predictions[c],
                            &mut coefficients,
                            &slots,
                            last_kept,
                        )?;
                        let plane = &mut planes[c];
                        let x = (mx * h + bx) * n;
                        let y = (my * v + by) * n;
                        idct.block(&coefficients, dequant, plane, x, y);
                    }
                }
            }
            // More than a few zero bytes fed: the scan ended (or was cut) before its blocks.
            if bits.padding > 16 {
                return None;
            }
        }
    }
    Some(planes)
}

#[inline]
fn decode_block(
    stream: &mut Bits,
    dc: &Huffman,
    ac: &Huffman,
    prediction: &mut i32,
    out: &mut [i32; 16],
    slots: &[u8; 64],
    last_kept: usize,
) -> Option<()> {
    // A copy the optimiser can keep in registers: through the `&mut`, the bit buffer lived
    // in memory and every shift was a load and a store on the critical path.
    let mut bits = *stream;
    let bits = &mut bits;
    bits.refill();
    let size = u32::from(bits.symbol(dc)?);
    if size > 11 {
        return None;
    }
    *prediction = prediction.wrapping_add(bits.receive_extend(size));
    out[0] = *prediction;
    // The kept low frequencies come first in zig-zag order; past them the coefficients are
    // only skipped, in a loop with nothing else to do.
    let mut k = 1usize;
    while k <= last_kept {
        let (run, value) = next_ac(bits, ac)?;
        k += run;
        if k > 63 {
            *stream = *bits;
            return (k >= END_OF_BLOCK).then_some(());
        }
        let slot = slots[k];
        if slot != UNUSED {
            out[usize::from(slot)] = value;
        }
        k += 1;
    }
    let k = skip_rest(bits, ac, k)?;
    *stream = *bits;
    // Past 64 without an end of block: a run ran off the block.
    (k == 64 || k > END_OF_BLOCK).then_some(())
}

/// Skips a block's symbols from zig-zag position `k` to its end; answers the final position.
#[inline(always)]
fn skip_rest(bits: &mut Bits, ac: &Huffman, mut k: usize) -> Option<usize> {
    while k < 64 {
        if bits.count < 32 {
            bits.refill();
        }
        let e = ac.skip[bits.peek(FAST_BITS) as usize & FAST_MASK];
        if e.0 == SkipEntry::UNRESOLVED.0 {
            k += next_ac(bits, ac)?.0 + 1;
            continue;
        }
        let (len, advance) = if k + e.one().1 < 64 {
            e.both()
        } else {
            e.one()
        };
        bits.consume(len);
        k += advance;
    }
    Some(k)
}

/// The next AC coefficient: the zeros before it (its run) and its value; a ZRL is 15 zeros
/// then a zero, and an end of block advances by [`END_OF_BLOCK`].
#[inline(always)]
fn next_ac(bits: &mut Bits, ac: &Huffman) -> Option<(usize, i32)> {
    if bits.count < 32 {
        bits.refill();
    }
    let fast = ac.fast_ac[bits.peek(FAST_BITS) as usize & FAST_MASK];
    if fast != 0 {
        bits.consume((fast & 0xFF) as u32);
        return Some((((fast >> 8) & 15) as usize, fast >> 16));
    }
    let rs = bits.symbol(ac)?;
    let (run, size) = (usize::from(rs >> 4), u32::from(rs & 15));
    match (run, size) {
        (15, 0) => Some((15, 0)),
        (_, 0) => Some((END_OF_BLOCK, 0)),
        (_, 11..) => None,
        _ => Some((run, bits.receive_extend(size))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{images, mean_abs_diff};

    /// The reference: jpeg-decoder's own scaled decode of the same file.
    fn reference(data: &[u8], denom: u32) -> (u32, u32, Vec<u8>, bool) {
        let mut d = jpeg_decoder::Decoder::new(data);
        d.read_info().expect("header");
        let info = d.info().expect("info");
        let want = |s: u16| u16::try_from(u32::from(s).div_ceil(denom)).expect("fits");
        let (w, h) = d.scale(want(info.width), want(info.height)).expect("scale");
        let grey = info.pixel_format == jpeg_decoder::PixelFormat::L8;
        (
            u32::from(w),
            u32::from(h),
            d.decode().expect("decode"),
            grey,
        )
    }

    #[test]
    fn matches_libjpeg_style_scaling_on_baseline_photos() {
        let cases = [
            "photos/safelanding-5120x2880.jpg",
            "photos/path-2560x1600.jpg",
            "edge/hopper.jpg",
            "edge/hopper_gray.jpg",
            "edge/flower.jpg",
            "edge/pil_sample_rgb.jpg",
            "edge/hopper_16bit_qtables.jpg",
            // Progressive.
            "photos/autumn-2560x1600.jpg",
            "edge/progressive.jpg",
            "edge/icc_profile_big.jpg",
        ];
        for name in cases {
            let data = std::fs::read(images().join(name)).expect("test image");
            for denom in [2, 4, 8] {
                let ours = decode(&data, denom).unwrap_or_else(|| panic!("{name} not covered"));
                let (w, h, pixels, grey) = reference(&data, denom);
                assert_eq!((ours.width(), ours.height()), (w, h), "{name} 1/{denom}");
                assert_eq!(matches!(ours, DynamicImage::ImageLuma8(_)), grey, "{name}");
                let diff = mean_abs_diff(ours.as_bytes(), &pixels);
                // Both are DCT-domain reductions; they differ in rounding and in how
                // chroma is upsampled, by about a level on average.
                assert!(diff < 2.5, "{name} 1/{denom}: mean difference {diff}");
            }
        }
    }

    /// Every chroma layout, with and without restart markers, sequential and progressive,
    /// at a size that is no multiple of a block, written by jpeg-encoder from a real photo.
    #[test]
    fn covers_every_sampling_layout_and_restart_interval() {
        use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
        let photo = std::fs::read(images().join("photos/path-2560x1600.jpg")).expect("photo");
        let (w, h, rgb, _) = reference(&photo, 4);
        let (w, h) = (w - 3, h - 5);
        let cropped: Vec<u8> = (0..h as usize)
            .flat_map(|y| rgb[y * (w as usize + 3) * 3..][..w as usize * 3].to_vec())
            .collect();
        let layouts = [
            SamplingFactor::F_1_1,
            SamplingFactor::F_2_1,
            SamplingFactor::F_1_2,
            SamplingFactor::F_2_2,
        ];
        for sampling in layouts {
            for restart in [0u16, 7] {
                for progressive in [false, true] {
                    let mut out = Vec::new();
                    let mut encoder = Encoder::new(&mut out, 85);
                    encoder.set_sampling_factor(sampling);
                    encoder.set_restart_interval(restart);
                    encoder.set_progressive(progressive);
                    encoder
                        .encode(&cropped, w as u16, h as u16, ColorType::Rgb)
                        .expect("encode");
                    let case = format!("{sampling:?} restart {restart} progressive {progressive}");
                    for denom in [2, 4, 8] {
                        let ours =
                            decode(&out, denom).unwrap_or_else(|| panic!("{case} not covered"));
                        let (rw, rh, pixels, _) = reference(&out, denom);
                        assert_eq!((ours.width(), ours.height()), (rw, rh), "{case} 1/{denom}");
                        let diff = mean_abs_diff(ours.as_bytes(), &pixels);
                        assert!(diff < 2.5, "{case} 1/{denom}: mean difference {diff}");
                    }
                }
            }
        }
        // Four luma blocks across one chroma block: left to the general decoder.
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, 85);
        encoder.set_sampling_factor(SamplingFactor::F_4_1);
        encoder
            .encode(&cropped, w as u16, h as u16, ColorType::Rgb)
            .expect("encode");
        assert!(decode(&out, 2).is_none());
    }

    #[test]
    fn tells_progressive_files_from_the_header() {
        let read = |name: &str| std::fs::read(images().join(name)).expect("test image");
        assert_eq!(
            progressive_components(&read("photos/autumn-2560x1600.jpg")),
            Some(3)
        );
        assert_eq!(
            progressive_components(&read("edge/progressive.jpg")),
            Some(3)
        );
        assert_eq!(
            progressive_components(&read("photos/safelanding-5120x2880.jpg")),
            None
        );
        assert_eq!(progressive_components(&read("edge/hopper_gray.jpg")), None);
    }

    #[test]
    fn leaves_what_it_does_not_cover_to_the_general_decoder() {
        // Four components (CMYK), and a file cut short, are the general decoder's.
        for name in ["edge/pil_sample_cmyk.jpg", "edge/truncated_jpeg.jpg"] {
            let data = std::fs::read(images().join(name)).expect("test image");
            assert!(decode(&data, 4).is_none(), "{name}");
        }
    }

    #[test]
    fn damaged_streams_are_left_to_the_general_decoder_without_panicking() {
        let data = std::fs::read(images().join("edge/hopper.jpg")).expect("test image");
        // Cut in the middle of the scan, and every byte of the header flipped in turn.
        assert!(decode(&data[..data.len() / 2], 2).is_none());
        for at in 0..data.len().min(700) {
            let mut bad = data.clone();
            bad[at] ^= 0x55;
            let _ = decode(&bad, 4);
        }
    }

    #[test]
    fn skipping_two_symbols_at_once_lands_where_one_at_a_time_does() {
        // The AC tables of real files, and bit streams of every pattern a block can meet:
        // pseudo-random bytes (no 0xFF, so no markers), entered at every zig-zag position.
        for name in ["photos/path-2560x1600.jpg", "edge/hopper.jpg"] {
            let data = std::fs::read(images().join(name)).expect("test image");
            let mut header = Header::default();
            let mut pos = 2;
            header
                .read_to_scan(&data, &mut pos)
                .flatten()
                .expect("a scan");
            let tables: Vec<&Huffman> = header.ac.iter().flatten().collect();
            assert!(!tables.is_empty());
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            let stream: Vec<u8> = (0..1 << 16)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8 % 0xFF
                })
                .collect();
            let mut blocks = 0;
            for ac in tables {
                for start in 0..64 {
                    let (mut one, mut both) = (Bits::new(&stream), Bits::new(&stream));
                    for _ in 0..500 {
                        let mut k = start;
                        let expected = loop {
                            if k >= 64 {
                                break Some(k);
                            }
                            match next_ac(&mut one, ac) {
                                Some((run, _)) => k += run + 1,
                                None => break None,
                            }
                        };
                        let got = skip_rest(&mut both, ac, start);
                        assert_eq!(got, expected, "{name}, from {start}");
                        if got.is_none() {
                            // A run off the block: both stopped somewhere in it; go on together.
                            both = one;
                            continue;
                        }
                        blocks += 1;
                        // The same bit of the stream next, whenever each refilled.
                        let at = |b: &Bits| b.pos * 8 - b.count as usize;
                        assert_eq!(at(&one), at(&both), "{name}, from {start}");
                    }
                }
            }
            assert!(blocks > 10_000, "{name}: only {blocks} blocks compared");
        }
    }
}
