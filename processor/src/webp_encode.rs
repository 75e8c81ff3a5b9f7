//! WebP encoding through libwebp directly (the `libwebp-sys` build the `webp` crate wraps),
//! for one thing that crate does not expose: libwebp's progress hook, through which an
//! encode is abandoned as soon as the deadline passes. A large picture takes libwebp seconds
//! (lossless, tens of seconds), far too long to notice a deadline only afterwards.
//!
//! The settings are the `webp` crate's: its default configuration, pictures imported as
//! ARGB, lossless with quality 75 and no alpha compression, lossy with alpha compression.
//! Animations add frames one at a time, so that only one frame's ARGB copy exists at once.

use std::ffi::{c_int, c_void};

use image::{DynamicImage, RgbaImage};
use libwebp_sys as sys;

use crate::deadline::Deadline;
use crate::decode::Frame;
use crate::error::{ProcessError, Result};

/// WebP's largest side.
pub(crate) const MAX_SIDE: u32 = 16383;

fn fail(why: impl std::fmt::Display) -> ProcessError {
    ProcessError::Encode(format!("WebP: {why}"))
}

fn check_side(w: u32, h: u32) -> Result<()> {
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(ProcessError::InvalidArgument(format!(
            "{w}x{h} exceeds WebP's {MAX_SIDE} px per side"
        )));
    }
    Ok(())
}

/// Called by libwebp as it progresses; 0 aborts the encode.
unsafe extern "C" fn progress(_percent: c_int, picture: *const sys::WebPPicture) -> c_int {
    // SAFETY: libwebp passes the picture being encoded. Its `user_data` is null or was set
    // by `Picture::import` to a `Deadline` that outlives every encode of the picture (and of
    // the copies libwebp's animation encoder makes of it, which keep hook and data).
    let deadline = unsafe { ((*picture).user_data as *const Deadline).as_ref() };
    c_int::from(!deadline.is_some_and(Deadline::passed))
}

/// A libwebp picture holding an ARGB copy of an image, freed on drop.
struct Picture(sys::WebPPicture);

impl Picture {
    /// Import `img` (8-bit RGB or RGBA) and attach the deadline's progress hook.
    fn import(img: &DynamicImage, deadline: &Deadline) -> Result<Picture> {
        let mut pic = sys::WebPPicture::new().map_err(|()| fail("picture init failed"))?;
        pic.use_argb = 1;
        pic.width = img.width() as c_int;
        pic.height = img.height() as c_int;
        pic.progress_hook = Some(progress);
        pic.user_data = deadline as *const Deadline as *mut c_void;
        let mut picture = Picture(pic);
        let stride = |channels: u32| (img.width() * channels) as c_int;
        // SAFETY: the buffers hold `height` rows of `stride` bytes; libwebp copies them.
        let ok = unsafe {
            match img {
                DynamicImage::ImageRgba8(i) => {
                    sys::WebPPictureImportRGBA(&mut picture.0, i.as_ptr(), stride(4))
                }
                DynamicImage::ImageRgb8(i) => {
                    sys::WebPPictureImportRGB(&mut picture.0, i.as_ptr(), stride(3))
                }
                _ => return Err(fail("only RGB and RGBA are imported")),
            }
        };
        if ok == 0 {
            return Err(fail("out of memory importing the picture"));
        }
        Ok(picture)
    }

    /// The error of the last encode of this picture: the deadline when it aborted it.
    fn error(&self, deadline: &Deadline) -> ProcessError {
        if self.0.error_code == sys::WebPEncodingError::VP8_ENC_ERROR_USER_ABORT {
            debug_assert!(deadline.passed());
            ProcessError::Deadline
        } else {
            fail(format!("{:?}", self.0.error_code))
        }
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was initialised and only libwebp allocated its buffers.
        unsafe { sys::WebPPictureFree(&mut self.0) }
    }
}

/// libwebp's default configuration (the `webp` crate's) with these settings.
fn config(quality: f32, lossless: bool, alpha_compression: bool) -> Result<sys::WebPConfig> {
    let mut config = sys::WebPConfig::new().map_err(|()| fail("config init failed"))?;
    config.lossless = c_int::from(lossless);
    config.alpha_compression = c_int::from(alpha_compression);
    config.quality = quality;
    // SAFETY: reads the struct only.
    if unsafe { sys::WebPValidateConfig(&config) } == 0 {
        return Err(fail("invalid configuration"));
    }
    Ok(config)
}

/// The layouts libwebp imports: RGB, or RGBA when the image has alpha.
fn importable(img: &DynamicImage) -> std::borrow::Cow<'_, DynamicImage> {
    use std::borrow::Cow;
    match img {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => Cow::Borrowed(img),
        other if other.color().has_alpha() => {
            Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    }
}

/// A still picture.
pub(crate) fn encode_still(
    img: &DynamicImage,
    quality: u8,
    lossless: bool,
    deadline: Deadline,
) -> Result<Vec<u8>> {
    check_side(img.width(), img.height())?;
    // As the `webp` crate's `encode_lossless` and `encode`.
    let config = if lossless {
        config(75.0, true, false)?
    } else {
        config(f32::from(quality), false, true)?
    };
    let mut picture = Picture::import(&importable(img), &deadline)?;
    // SAFETY: `writer` outlives the encode that writes into it through `custom_ptr`, and is
    // cleared (its buffer freed) after its bytes are copied out.
    unsafe {
        let mut writer: sys::WebPMemoryWriter = std::mem::zeroed();
        sys::WebPMemoryWriterInit(&mut writer);
        picture.0.writer = Some(sys::WebPMemoryWrite);
        picture.0.custom_ptr = &mut writer as *mut sys::WebPMemoryWriter as *mut c_void;
        let ok = sys::WebPEncode(&config, &mut picture.0);
        let bytes = if writer.mem.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(writer.mem, writer.size).to_vec()
        };
        sys::WebPMemoryWriterClear(&mut writer);
        if ok == 0 {
            return Err(picture.error(&deadline));
        }
        if bytes.is_empty() {
            return Err(fail("libwebp returned no data"));
        }
        Ok(bytes)
    }
}

/// libwebp's animation encoder, deleted on drop.
struct AnimEncoder(*mut sys::WebPAnimEncoder);

impl AnimEncoder {
    fn new(w: u32, h: u32) -> Result<AnimEncoder> {
        // SAFETY: the options are initialised by libwebp before they are read.
        unsafe {
            let mut options: sys::WebPAnimEncoderOptions = std::mem::zeroed();
            let abi = sys::WebPGetMuxABIVersion();
            if sys::WebPAnimEncoderOptionsInitInternal(&mut options, abi) == 0 {
                return Err(fail("animation options init failed"));
            }
            // Loop forever over a transparent background, as the `webp` crate writes it.
            options.anim_params.loop_count = 0;
            options.anim_params.bgcolor = 0;
            let enc = sys::WebPAnimEncoderNewInternal(w as c_int, h as c_int, &options, abi);
            if enc.is_null() {
                return Err(fail("out of memory for the animation encoder"));
            }
            Ok(AnimEncoder(enc))
        }
    }

    fn error(&self) -> String {
        // SAFETY: libwebp returns a static or encoder-owned C string, or null.
        unsafe {
            let ptr = sys::WebPAnimEncoderGetError(self.0);
            if ptr.is_null() {
                "unknown error".into()
            } else {
                std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned()
            }
        }
    }
}

impl Drop for AnimEncoder {
    fn drop(&mut self) {
        // SAFETY: created by WebPAnimEncoderNewInternal, deleted once.
        unsafe { sys::WebPAnimEncoderDelete(self.0) }
    }
}

/// An animation of same-sized frames with their durations in ms. The end timestamp is
/// given (a last, empty add), or libwebp would give the last frame the average duration of
/// the others.
pub(crate) fn encode_animation(
    frames: &[Frame],
    quality: u8,
    lossless: bool,
    deadline: Deadline,
) -> Result<Vec<u8>> {
    let (w, h) = frames
        .first()
        .map(|f| (f.image.width(), f.image.height()))
        .ok_or_else(|| fail("no frame to encode"))?;
    check_side(w, h)?;
    let config = config(f32::from(quality), lossless, true)?;
    let enc = AnimEncoder::new(w, h)?;
    let mut timestamp = 0i32;
    for frame in frames {
        deadline.check()?;
        let rgba = DynamicImage::ImageRgba8(as_rgba(&frame.image));
        let mut picture = Picture::import(&rgba, &deadline)?;
        // SAFETY: encoder, picture and config are valid; libwebp copies the picture's pixels.
        if unsafe { sys::WebPAnimEncoderAdd(enc.0, &mut picture.0, timestamp, &config) } == 0 {
            deadline.check()?;
            return Err(fail(enc.error()));
        }
        timestamp = timestamp.saturating_add(frame.delay_ms.min(i32::MAX as u32) as i32);
    }
    deadline.check()?;
    // SAFETY: a null picture (and config) marks the end of the animation at `timestamp`.
    if unsafe { sys::WebPAnimEncoderAdd(enc.0, std::ptr::null_mut(), timestamp, std::ptr::null()) }
        == 0
    {
        return Err(fail(enc.error()));
    }
    // SAFETY: `data` is filled by libwebp and freed by WebPDataClear after the copy.
    unsafe {
        let mut data = sys::WebPData::default();
        if sys::WebPAnimEncoderAssemble(enc.0, &mut data) == 0 {
            return Err(fail(enc.error()));
        }
        let bytes = std::slice::from_raw_parts(data.bytes, data.size).to_vec();
        sys::WebPDataClear(&mut data);
        Ok(bytes)
    }
}

fn as_rgba(img: &DynamicImage) -> RgbaImage {
    match img {
        DynamicImage::ImageRgba8(i) => i.clone(),
        other => other.to_rgba8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn gradient(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8])
        }))
    }

    /// The `webp` crate's encoder, as the reference for the bytes.
    fn by_the_webp_crate(img: &DynamicImage, quality: u8, lossless: bool) -> Vec<u8> {
        let rgb = img.to_rgb8();
        let enc = webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height());
        if lossless {
            enc.encode_lossless().to_vec()
        } else {
            enc.encode(f32::from(quality)).to_vec()
        }
    }

    #[test]
    fn the_same_bytes_as_the_webp_crate() {
        let img = gradient(97, 61);
        for (quality, lossless) in [(80, false), (100, true)] {
            let ours = encode_still(&img, quality, lossless, Deadline::NONE).expect("encoded");
            assert_eq!(ours, by_the_webp_crate(&img, quality, lossless));
        }
    }

    #[test]
    fn a_deadline_aborts_libwebp() {
        let img = gradient(1500, 1500);
        let started = Instant::now();
        let deadline = Deadline::at(started + Duration::from_millis(50));
        let result = encode_still(&img, 80, true, deadline);
        assert_eq!(result.err(), Some(ProcessError::Deadline));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn an_animation_keeps_its_frames() {
        let frame = |image, delay_ms| Frame { image, delay_ms };
        let frames = [
            frame(gradient(40, 30), 100),
            frame(gradient(40, 30).fliph(), 200),
        ];
        let bytes = encode_animation(&frames, 80, false, Deadline::NONE).expect("encoded");
        let decoded = crate::decode::decode(&bytes, &crate::Limits::default(), crate::Frames::All)
            .expect("decoded");
        assert_eq!(decoded.frames.len(), 2);
        assert_eq!(decoded.frames[0].delay_ms, 100);
        assert_eq!(
            decoded.frames[1].delay_ms, 200,
            "the last frame keeps its own duration"
        );
    }
}
