//! Still WebP pictures through libwebp (the `libwebp-sys` build that the encoder already
//! links): lossy and lossless, with alpha, optionally at 1/2, 1/4 or 1/8 of the size.
//!
//! Chosen over image-webp (kept for animations) because it decodes large lossy pictures
//! markedly faster, and libwebp's rescaler shrinks while decoding, so a thumbnail never
//! holds the full-size picture. libwebp is the reference decoder, fuzzed continuously
//! by OSS-Fuzz; the build vendored here carries the fix for CVE-2023-4863.

use image::{DynamicImage, RgbImage, RgbaImage};
use libwebp_sys as sys;

use crate::error::{ProcessError, Result};

fn corrupt(why: String) -> ProcessError {
    ProcessError::InvalidImageFormat(why)
}

/// What a libwebp status means to the one who sent the file.
fn refused(status: sys::VP8StatusCode) -> ProcessError {
    use sys::VP8StatusCode as S;
    corrupt(match status {
        S::VP8_STATUS_NOT_ENOUGH_DATA => "WebP is truncated".into(),
        S::VP8_STATUS_UNSUPPORTED_FEATURE => "WebP uses a feature libwebp does not support".into(),
        S::VP8_STATUS_OUT_OF_MEMORY => "WebP could not be decoded: out of memory".into(),
        other => format!("WebP data is corrupt (libwebp: {other:?})"),
    })
}

/// Whether `data` is a WebP that [`decode`] takes (not an animation), from its header.
pub(crate) fn is_still(data: &[u8]) -> bool {
    // SAFETY: WebPGetFeatures only reads `data` and writes the struct it is given.
    unsafe {
        let mut features: sys::WebPBitstreamFeatures = std::mem::zeroed();
        sys::WebPGetFeatures(data.as_ptr(), data.len(), &mut features)
            == sys::VP8StatusCode::VP8_STATUS_OK
            && features.has_animation == 0
    }
}

/// Decodes `data` (a WebP whose size was already checked against the limits) at 1/`denom`
/// of its size, rounding up; `denom` 1 decodes at full size. `None` for an animation (even
/// of one frame), which libwebp's still decoder refuses.
pub(crate) fn decode(data: &[u8], denom: u32) -> Result<Option<DynamicImage>> {
    // SAFETY: `config` is initialised by libwebp before use; `data` outlives every call that
    // reads it; the output buffer is ours (`is_external_memory`), sized for the stride and
    // height given to libwebp, which writes nothing past `size`.
    unsafe {
        let mut config: sys::WebPDecoderConfig = std::mem::zeroed();
        if !sys::WebPInitDecoderConfig(&mut config) {
            return Err(corrupt("libwebp version mismatch".into()));
        }
        let status = sys::WebPGetFeatures(data.as_ptr(), data.len(), &mut config.input);
        if status != sys::VP8StatusCode::VP8_STATUS_OK {
            return Err(refused(status));
        }
        if config.input.has_animation != 0 {
            return Ok(None);
        }
        let (w, h) = (config.input.width, config.input.height);
        if w <= 0 || h <= 0 {
            return Err(corrupt("WebP has no pixels".into()));
        }
        let denom = denom.max(1) as i32;
        let (out_w, out_h) = ((w + denom - 1) / denom, (h + denom - 1) / denom);
        if denom > 1 {
            config.options.use_scaling = 1;
            config.options.scaled_width = out_w;
            config.options.scaled_height = out_h;
        }
        let alpha = config.input.has_alpha != 0;
        let channels = if alpha { 4 } else { 3 };
        let stride = out_w as usize * channels;
        let mut pixels = vec![0u8; stride * out_h as usize];
        config.output.colorspace = if alpha {
            sys::WEBP_CSP_MODE::MODE_RGBA
        } else {
            sys::WEBP_CSP_MODE::MODE_RGB
        };
        config.output.is_external_memory = 1;
        config.output.u.RGBA = sys::WebPRGBABuffer {
            rgba: pixels.as_mut_ptr(),
            stride: stride as i32,
            size: pixels.len(),
        };
        let status = sys::WebPDecode(data.as_ptr(), data.len(), &mut config);
        // Frees nothing of ours (external memory), only what libwebp may hold besides.
        sys::WebPFreeDecBuffer(&mut config.output);
        if status != sys::VP8StatusCode::VP8_STATUS_OK {
            return Err(refused(status));
        }
        let (out_w, out_h) = (out_w as u32, out_h as u32);
        let image = if alpha {
            RgbaImage::from_raw(out_w, out_h, pixels).map(DynamicImage::ImageRgba8)
        } else {
            RgbImage::from_raw(out_w, out_h, pixels).map(DynamicImage::ImageRgb8)
        };
        image
            .map(Some)
            .ok_or_else(|| corrupt("WebP decoded to a short buffer".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{edge, lossless_webp, mean_abs_diff};
    use image::GenericImageView;
    use std::io::Cursor;

    /// The other decoder's full-size pixels, as the reference.
    fn image_webp(data: &[u8]) -> DynamicImage {
        let mut d = image_webp::WebPDecoder::new(Cursor::new(data)).expect("header");
        let (w, h) = d.dimensions();
        let mut buf = vec![0; d.output_buffer_size().expect("size")];
        d.read_image(&mut buf).expect("pixels");
        if d.has_alpha() {
            DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, buf).expect("rgba"))
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, buf).expect("rgb"))
        }
    }

    const STILLS: [&str; 6] = [
        "flower.webp",
        "hopper.webp",
        "hopper_orientation_6.webp",
        "lossy.webp",
        "transparent.webp",
        "anim_frame1.webp",
    ];

    fn stills() -> Vec<(String, Vec<u8>)> {
        let mut all: Vec<(String, Vec<u8>)> =
            STILLS.iter().map(|n| (n.to_string(), edge(n))).collect();
        for png in ["hopper.png", "rgba_gradient_alpha.png"] {
            all.push((format!("{png} as lossless WebP"), lossless_webp(png)));
        }
        all
    }

    #[test]
    fn full_size_matches_image_webp() {
        for (name, data) in stills() {
            let ours = decode(&data, 1).expect(&name).expect("a still");
            let reference = image_webp(&data);
            assert_eq!(ours.color(), reference.color(), "{name}");
            assert_eq!(ours.dimensions(), reference.dimensions(), "{name}");
            let diff = mean_abs_diff(ours.as_bytes(), reference.as_bytes());
            // Lossless files must agree exactly; lossy ones up to rounding in upsampling.
            assert!(diff < 1.0, "{name}: mean difference {diff}");
        }
    }

    #[test]
    fn shrinks_on_load_to_the_rounded_up_size() {
        for (name, data) in stills() {
            let reference = image_webp(&data);
            for denom in [2, 4, 8] {
                let ours = decode(&data, denom).expect(&name).expect("a still");
                let (w, h) = reference.dimensions();
                let want = (w.div_ceil(denom), h.div_ceil(denom));
                assert_eq!(ours.dimensions(), want, "{name} at 1/{denom}");
                // Against the reference shrunk by a triangle filter (libwebp averages boxes):
                // on these small pictures, 1 to 6 levels apart.
                let shrunk = reference.resize_exact(want.0, want.1, image::imageops::Triangle);
                let diff = mean_abs_diff(ours.as_bytes(), shrunk.as_bytes());
                assert!(diff < 8.0, "{name} at 1/{denom}: mean difference {diff}");
            }
        }
    }

    #[test]
    fn leaves_animations_to_image_webp() {
        for name in ["animated.webp", "anim_frame1.webp"] {
            let animated = name == "animated.webp";
            assert_eq!(
                decode(&edge(name), 1).expect(name).is_none(),
                animated,
                "{name}"
            );
            assert_eq!(is_still(&edge(name)), !animated, "{name}");
        }
    }

    #[test]
    fn refuses_damage_with_an_error() {
        let data = edge("lossy.webp");
        let cut = decode(&data[..data.len() / 2], 1).expect_err("half a file");
        assert_eq!(cut.to_string(), "invalid image: WebP is truncated");
        assert!(decode(b"RIFF\0\0\0\0WEBPVP8 ", 1).is_err());
        for at in (0..data.len().min(400)).step_by(3) {
            let mut bad = data.clone();
            bad[at] ^= 0x55;
            let _ = decode(&bad, 2);
        }
    }
}
