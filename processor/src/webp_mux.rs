//! Metadata chunks added to an encoded WebP through libwebp's muxer (libwebpmux, already
//! linked for the animation encoder): it writes the extended header (`VP8X`) with the
//! right flags and canvas size, and orders the chunks as the container specification
//! requires, for still pictures and animations alike.

use std::ffi::c_int;

use libwebp_sys as sys;

use crate::error::{ProcessError, Result};

fn fail(why: impl std::fmt::Display) -> ProcessError {
    ProcessError::Encode(format!("WebP: {why}"))
}

/// A libwebp muxer, deleted on drop.
struct Mux(*mut sys::WebPMux);

impl Drop for Mux {
    fn drop(&mut self) {
        // SAFETY: created by WebPMuxCreateInternal, deleted once.
        unsafe { sys::WebPMuxDelete(self.0) }
    }
}

fn data(bytes: &[u8]) -> sys::WebPData {
    sys::WebPData {
        bytes: bytes.as_ptr(),
        size: bytes.len(),
    }
}

/// `webp` with `icc` as its ICC profile (an `ICCP` chunk, flagged in `VP8X`).
pub(crate) fn with_icc(webp: &[u8], icc: &[u8]) -> Result<Vec<u8>> {
    if icc.is_empty() {
        return Ok(webp.to_vec());
    }
    // SAFETY: the muxer reads `webp` without copying it (copy_data 0) and is deleted before
    // `webp` goes out of scope; it copies the profile (copy_data 1). The assembled bytes
    // are libwebp's, copied out and freed by WebPDataClear.
    unsafe {
        let mux = sys::WebPMuxCreateInternal(&data(webp), 0, sys::WEBP_MUX_ABI_VERSION as c_int);
        if mux.is_null() {
            return Err(fail("the muxer could not read the encoded picture"));
        }
        let mux = Mux(mux);
        let status = sys::WebPMuxSetChunk(mux.0, c"ICCP".as_ptr(), &data(icc), 1);
        if status != sys::WebPMuxError::WEBP_MUX_OK {
            return Err(fail(format!("adding the ICC profile: {status:?}")));
        }
        let mut out = sys::WebPData::default();
        let status = sys::WebPMuxAssemble(mux.0, &mut out);
        if status != sys::WebPMuxError::WEBP_MUX_OK {
            sys::WebPDataClear(&mut out);
            return Err(fail(format!("assembling: {status:?}")));
        }
        let bytes = std::slice::from_raw_parts(out.bytes, out.size).to_vec();
        sys::WebPDataClear(&mut out);
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;
    use crate::decode::Frame;
    use crate::webp_encode;
    use image::DynamicImage;

    fn picture() -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(33, 21, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 11) as u8, 90])
        }))
    }

    /// The profile as image-webp (another reader than libwebp) finds it, and the frames.
    fn read_back(webp: &[u8]) -> (Option<Vec<u8>>, usize) {
        let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(webp)).expect("WebP");
        let icc = d.icc_profile().expect("readable");
        let frames = if d.is_animated() { d.num_frames() } else { 1 };
        (icc, frames as usize)
    }

    #[test]
    fn a_still_gets_the_profile_and_keeps_its_pixels() {
        let icc = crate::test_support::edge("icc_profile_big.jpg");
        let icc = &icc[..3001]; // any bytes: the muxer does not parse profiles (odd: padded)
        for lossless in [false, true] {
            let plain = webp_encode::encode_still(&picture(), 80, lossless, Deadline::NONE)
                .expect("encoded");
            let tagged = with_icc(&plain, icc).expect("muxed");
            assert_eq!(&tagged[12..16], b"VP8X");
            assert_eq!(tagged[20] & 0x20, 0x20, "the ICC flag");
            assert_eq!(read_back(&tagged), (Some(icc.to_vec()), 1));
            let a = image::load_from_memory(&plain).expect("plain");
            let b = image::load_from_memory(&tagged).expect("tagged");
            assert_eq!(a.as_bytes(), b.as_bytes());
        }
    }

    #[test]
    fn an_animation_gets_the_profile_and_keeps_its_frames() {
        let frames = [
            Frame {
                image: picture(),
                delay_ms: 100,
            },
            Frame {
                image: picture().fliph(),
                delay_ms: 200,
            },
        ];
        let anim =
            webp_encode::encode_animation(&frames, 80, false, Deadline::NONE).expect("encoded");
        let tagged = with_icc(&anim, b"profile bytes").expect("muxed");
        assert_eq!(read_back(&tagged), (Some(b"profile bytes".to_vec()), 2));
        let decode = |bytes: &[u8]| {
            crate::decode::decode(bytes, &crate::Limits::default(), crate::Frames::All)
                .expect("decoded")
        };
        let (plain, tagged) = (decode(&anim), decode(&tagged));
        assert_eq!(tagged.frames.len(), 2);
        assert_eq!(tagged.frames[1].delay_ms, 200);
        for (a, b) in plain.frames.iter().zip(&tagged.frames) {
            assert_eq!(a.delay_ms, b.delay_ms);
            assert_eq!(a.image.as_bytes(), b.image.as_bytes());
        }
        assert_eq!(tagged.source.icc.as_deref(), Some(&b"profile bytes"[..]));
    }

    #[test]
    fn no_profile_leaves_the_bytes_alone_and_garbage_is_refused() {
        assert_eq!(with_icc(b"anything", b"").expect("unchanged"), b"anything");
        assert!(with_icc(b"not a webp", b"icc").is_err());
    }
}
