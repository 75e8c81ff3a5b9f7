//! HEIF/HEIC and AVIF stills through the system's libheif: the primary image only.
//!
//! The header comes first: libheif parses the boxes (no picture is decoded) and the primary
//! image's size, as declared by its `ispe` property and as shown after its transformations,
//! is checked against [`Limits`] before any pixel is decoded. The codec's own stream (HEVC
//! SPS, AV1 sequence header) is not read before decoding: a stream larger than its `ispe` is
//! caught after the decode (the frame must have the declared size), by which time the codec
//! has allocated it, up to libheif's and the codec's own size limits. libheif 1.15 offers no
//! way to check it earlier through libheif-rs 0.20 (its size limit must be set on a context
//! before reading, and libheif-rs reads while creating the context).
//!
//! Orientation: libheif applies the image's `irot`/`imir` (and `clap`) transformations while
//! decoding, and the HEIF specification makes those, not the EXIF orientation, the
//! authoritative ones (libvips and browsers also ignore EXIF orientation in HEIF). So the
//! pixels come out upright, and the EXIF block is kept with its orientation reset to 1: an
//! `auto-orient` must not turn them again, nor a viewer of the JPEG written from them.

use image::{DynamicImage, RgbImage, RgbaImage};
use libheif_rs::{
    color_profile_types, ColorProfile, ColorSpace, HeifContext, ImageHandle, LibHeif, RgbChroma,
};

use crate::error::{ProcessError, Result};
use crate::exif;
use crate::format::Format;
use crate::limits::Limits;
use crate::source::Source;

fn corrupt(format: Format, e: impl std::fmt::Display) -> ProcessError {
    ProcessError::InvalidImageFormat(format!("{}: {e}", format.name()))
}

/// The parsed container and its primary image's handle. The context borrows `data`.
fn open(data: &[u8], format: Format) -> Result<(HeifContext<'_>, ImageHandle)> {
    let ctx = HeifContext::read_from_bytes(data).map_err(|e| corrupt(format, e))?;
    let handle = ctx.primary_image_handle().map_err(|e| corrupt(format, e))?;
    Ok((ctx, handle))
}

/// The EXIF block of a HEIF `Exif` item: a 4-byte big-endian offset to the TIFF header
/// (after an optional `Exif\0\0`), then the TIFF data. Returned from the TIFF header on.
fn tiff_from_item(item: &[u8]) -> Option<Vec<u8>> {
    let offset = u32::from_be_bytes(item.get(..4)?.try_into().ok()?) as usize;
    let tiff = item.get(4usize.checked_add(offset)?..)?;
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    matches!(tiff.get(..4)?, [b'I', b'I', 42, 0] | [b'M', b'M', 0, 42]).then(|| tiff.to_vec())
}

fn exif_of(handle: &ImageHandle) -> Option<Vec<u8>> {
    let mut ids = [0; 1];
    if handle.metadata_block_ids(&mut ids, b"Exif") == 0 {
        return None;
    }
    let item = handle.metadata(ids[0]).ok()?;
    tiff_from_item(&item)
}

/// Read the container's header and check the primary image's size against `limits`.
/// Decodes no picture.
pub(crate) fn probe(data: &[u8], format: Format, limits: &Limits) -> Result<Source> {
    let (_ctx, handle) = open(data, format)?;
    let (width, height) = (handle.width(), handle.height());
    if width == 0 || height == 0 {
        return Err(corrupt(format, "the primary image has no size"));
    }
    // The coded size (`ispe`, before a rotation or crop) is what the decoder allocates; the
    // shown size is checked by the caller, as for every format.
    let ispe = |v: i32| u32::try_from(v).ok().filter(|&v| v > 0);
    if let (Some(cw), Some(ch)) = (ispe(handle.ispe_width()), ispe(handle.ispe_height())) {
        limits.check_frame(cw, ch, 0, 0)?;
    }
    let icc = handle
        .color_profile_raw()
        .filter(|p| {
            let t = p.profile_type();
            t == color_profile_types::PROF || t == color_profile_types::R_ICC
        })
        .map(|p| p.data);
    let exif = exif_of(&handle).map(|e| exif::with_upright_orientation(&e));
    // The EXIF keeps its orientation reset to 1: libheif applies the file's own
    // transformations.
    Ok(Source {
        format,
        width,
        height,
        frames: 1,
        // Neither the HEVC nor the AV1 quantisers are read: unknown, as for some WebP.
        quality: None,
        orientation: exif.as_deref().map(exif::orientation).unwrap_or(0),
        icc,
        exif,
    })
}

/// Bytes a sample of the primary image takes in the decoder: 2 above 8 bits (and when the
/// header cannot be read: the decode then fails early anyway).
pub(crate) fn bytes_per_sample(data: &[u8]) -> u64 {
    match open(data, Format::Heif) {
        Ok((_ctx, handle))
            if handle
                .luma_bits_per_pixel()
                .max(handle.chroma_bits_per_pixel())
                <= 8 =>
        {
            1
        }
        _ => 2,
    }
}

/// Decode the primary image, transformations applied, to 8-bit RGB or RGBA.
pub(crate) fn decode(data: &[u8], format: Format, size: (u32, u32)) -> Result<DynamicImage> {
    let (mut ctx, handle) = open(data, format)?;
    // Grid images (a phone's HEIC is a grid of 512×512 tiles) are decoded tile after tile
    // on this thread: the rules already run in parallel, and memory stays one tile's worth.
    ctx.set_max_decoding_threads(0);
    if (handle.width(), handle.height()) != size {
        return Err(corrupt(format, "the primary image changed since the probe"));
    }
    let alpha = handle.has_alpha_channel();
    let chroma = if alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    // No `DecodingOptions`: libheif-rs 0.20 frees them before libheif reads them (fixed in
    // 1.0.1, which needs libheif 1.17). The defaults are what is wanted anyway: the
    // transformations applied, and interleaved RGB(A) means 8 bits per sample, to which
    // libheif converts 10- and 12-bit pictures.
    let image = LibHeif::new()
        .decode(&handle, ColorSpace::Rgb(chroma), None)
        .map_err(|e| corrupt(format, e))?;
    let planes = image.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| corrupt(format, "no interleaved plane decoded"))?;
    let (w, h) = (plane.width, plane.height);
    let bits = 8 * (3 + u8::from(alpha));
    if (w, h) != size || plane.storage_bits_per_pixel != bits {
        return Err(corrupt(
            format,
            format!(
                "decoded to {w}x{h} at {} bits per pixel, not the declared {}x{}",
                plane.storage_bits_per_pixel, size.0, size.1
            ),
        ));
    }
    let row = w as usize * (3 + usize::from(alpha));
    let mut pixels = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        let start = y * plane.stride;
        let line = plane
            .data
            .get(start..start + row)
            .ok_or_else(|| corrupt(format, "decoded plane is short"))?;
        pixels.extend_from_slice(line);
    }
    let image = if alpha {
        RgbaImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| corrupt(format, "decoded to a short buffer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode as decode_image, probe as probe_image, Frames};
    use crate::test_support::images;
    use crate::{info, process};

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(images().join("heif").join(name)).expect("test image")
    }

    /// `data` with the `ispe` (coded size) of every image item set to `w`×`h`.
    fn with_ispe(mut data: Vec<u8>, w: u32, h: u32) -> Vec<u8> {
        let at: Vec<usize> = data
            .windows(4)
            .enumerate()
            .filter(|(_, b)| b == b"ispe")
            .map(|(i, _)| i)
            .collect();
        assert!(!at.is_empty(), "no ispe box");
        for i in at {
            // Type, then version and flags, then width and height.
            data[i + 8..i + 12].copy_from_slice(&w.to_be_bytes());
            data[i + 12..i + 16].copy_from_slice(&h.to_be_bytes());
        }
        data
    }

    #[test]
    fn heic_and_avif_stills_decode_at_their_size() {
        let cases = [
            ("autumn.heic", Format::Heif, false),
            ("autumn.avif", Format::Avif, false),
            ("autumn_alpha.avif", Format::Avif, true),
        ];
        for (name, format, alpha) in cases {
            let data = fixture(name);
            assert_eq!(Format::sniff(&data), Some(format), "{name}");
            let d = decode_image(&data, &Limits::default(), Frames::All).expect(name);
            assert_eq!((d.source.width, d.source.height), (256, 160), "{name}");
            assert_eq!(d.frames.len(), 1);
            let image = &d.frames[0].image;
            assert_eq!((image.width(), image.height()), (256, 160), "{name}");
            assert_eq!(image.color().has_alpha(), alpha, "{name}");
            let i = info(&data, &Limits::default()).expect(name);
            assert_eq!(
                (i.format, i.orientation, i.frames),
                (format, 0, 1),
                "{name}"
            );
            // An autumn scene: far from black and from grey.
            let (r, _, b) = crate::ops::average(image);
            assert!(
                r > b + 20,
                "{name}: average {:?}",
                crate::ops::average(image)
            );
        }
    }

    #[test]
    fn the_plan_budgets_for_libheif() {
        let rule = crate::parse_rule("imageMogr2/thumbnail/100x/format/jpg").expect("rule");
        for name in ["autumn.heic", "autumn.avif", "autumn_alpha.avif"] {
            let data = fixture(name);
            assert_eq!(bytes_per_sample(&data), 1, "{name}: 8-bit");
            let plan =
                crate::plan(&data, std::slice::from_ref(&rule), &Limits::default()).expect(name);
            // The decoded frame, and libheif's pictures beside it (20 bytes a pixel in all).
            assert!(plan.memory_bytes() >= 256 * 160 * 20, "{name}");
        }
    }

    #[test]
    fn irot_is_applied_once_and_exif_orientation_reset() {
        let data = fixture("autumn_irot_exif6_icc.heic");
        let d = decode_image(&data, &Limits::default(), Frames::First).expect("decoded");
        // Coded 256×160, turned 90° clockwise by `irot`; its EXIF says 6, the same turn.
        assert_eq!((d.source.width, d.source.height), (160, 256));
        assert_eq!(d.source.orientation, 1);
        let exif = d.source.exif.as_deref().expect("EXIF kept");
        assert_eq!(exif::orientation(exif), 1);
        assert_eq!(d.source.icc.as_ref().map(Vec::len), Some(3144));
        // The same pixels as the unrotated file turned clockwise.
        let plain = decode_image(&fixture("autumn.heic"), &Limits::default(), Frames::First)
            .expect("decoded");
        let turned = plain.frames[0].image.rotate90().to_rgb8();
        let got = d.frames[0].image.to_rgb8();
        let diff = crate::test_support::mean_abs_diff(got.as_raw(), turned.as_raw());
        assert!(diff < 6.0, "differs by {diff}");
        // auto-orient leaves it as it is; the JPEG keeps the ICC profile and an upright EXIF.
        let out = process(
            &data,
            "imageMogr2/auto-orient/format/jpg",
            &Limits::default(),
        )
        .expect("processed");
        assert_eq!((out.facts.width, out.facts.height), (160, 256));
        let back = probe_image(&out.bytes, &Limits::default()).expect("jpeg");
        assert_eq!(back.orientation, 1);
        assert_eq!(back.icc.map(|p| p.len()), Some(3144));
    }

    #[test]
    fn a_header_declaring_too_many_pixels_is_refused_before_decoding() {
        // 20000×20000 (400 MP) is within each side's limit and libheif's own, but over the
        // pixel limit: refused from the header. The coded picture is still 256×160.
        let data = with_ispe(fixture("autumn.heic"), 20_000, 20_000);
        let err = probe_image(&data, &Limits::default()).expect_err("refused");
        assert!(matches!(err, ProcessError::ImageTooLarge(_)), "{err:?}");
        let err = decode_image(&data, &Limits::default(), Frames::First).expect_err("refused");
        assert!(matches!(err, ProcessError::ImageTooLarge(_)), "{err:?}");
        let tight = Limits {
            max_side: 200,
            ..Limits::default()
        };
        let err = probe_image(&fixture("autumn.avif"), &tight).expect_err("refused");
        assert!(matches!(err, ProcessError::ImageTooLarge(_)), "{err:?}");
    }

    #[test]
    fn a_header_lying_small_is_caught_after_decoding() {
        // The codec decodes the coded 256×160 whatever `ispe` says; the mismatch is an error,
        // never a frame of another size than the one planned for.
        for name in ["autumn.heic", "autumn.avif"] {
            let data = with_ispe(fixture(name), 64, 40);
            let err = decode_image(&data, &Limits::default(), Frames::First).expect_err(name);
            assert!(
                matches!(&err, ProcessError::InvalidImageFormat(m) if m.contains("not the declared 64x40")),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn heif_outputs_are_refused_clearly() {
        let data = fixture("autumn.heic");
        let out = process(
            &data,
            "imageMogr2/thumbnail/100x/format/png",
            &Limits::default(),
        )
        .expect("processed");
        assert_eq!((out.facts.format, out.facts.width), (Format::Png, 100));
        // No format: the input's own, which picops does not write.
        for rule in ["imageMogr2/thumbnail/100x", "imageMogr2/format/src"] {
            let err = process(&data, rule, &Limits::default()).expect_err(rule);
            match err {
                ProcessError::InvalidArgument(m) => {
                    assert!(m.contains("HEIF output is not supported"), "{m}")
                }
                other => panic!("{rule}: {other:?}"),
            }
        }
        // ignore-error answers with the input itself.
        let out = process(
            &data,
            "imageMogr2/thumbnail/100x/ignore-error/1",
            &Limits::default(),
        )
        .expect("the original");
        assert_eq!(out.bytes, data);
    }

    #[test]
    fn exif_items_are_read_from_their_tiff_header() {
        let tiff = b"MM\0\x2a\0\0\0\x08\0\0";
        let mut item = vec![0, 0, 0, 6];
        item.extend_from_slice(b"Exif\0\0");
        item.extend_from_slice(tiff);
        assert_eq!(tiff_from_item(&item).as_deref(), Some(&tiff[..]));
        let mut bare = vec![0, 0, 0, 0];
        bare.extend_from_slice(tiff);
        assert_eq!(tiff_from_item(&bare).as_deref(), Some(&tiff[..]));
        assert_eq!(tiff_from_item(&[0, 0, 0, 0x40, 1, 2]), None);
        assert_eq!(tiff_from_item(&[0xFF; 4]), None);
        assert_eq!(tiff_from_item(b"\0\0"), None);
    }
}
